from django.conf import settings
from django.http import JsonResponse
from django.urls import path


def health(request):
    # Which database engine the environment chose; never a setting's value.
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return JsonResponse({"ok": True, "database": engine})


urlpatterns = [
    path("healthz", health),
]
