//! `/api/v1/hush/keys/...`: online re-keying for server admins (see
//! `service::rekey`). Answers hold ids, counts and times, never a key.

use super::error::ApiError;
use super::extract::{ApiJson, Auth};
use super::AppState;
use crate::api::keys::{
    DataRotated, DataRotatedList, KeyStatus, RekeyJobView, RootRotated, RotateData,
};
use crate::service::iso;
use axum::extract::State;
use axum::Json;

pub async fn rotate_root(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<RootRotated>, ApiError> {
    let done = state.service.rotate_root(&ctx).await?;
    Ok(Json(RootRotated {
        generation: done.generation,
        provider: done.provider,
        data_keys: done.data_keys,
    }))
}

pub async fn rotate_data(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<RotateData>,
) -> Result<Json<DataRotatedList>, ApiError> {
    let done = state
        .service
        .rotate_data(&ctx, body.project.as_deref())
        .await?;
    Ok(Json(DataRotatedList {
        projects: done
            .into_iter()
            .map(|d| DataRotated {
                project_id: d.project_id,
                key_id: d.key_id,
                to_reseal: d.to_reseal,
            })
            .collect(),
    }))
}

pub async fn status(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<KeyStatus>, ApiError> {
    let s = state.service.key_status(&ctx).await?;
    Ok(Json(KeyStatus {
        provider: s.provider,
        provider_description: s.provider_description,
        generation: s.generation,
        generation_created_at: s.generation_created_at.map(iso),
        next_rotation_at: s.next_rotation_at.map(iso),
        data_keys: s.data_keys,
        retired_data_keys: s.retired_data_keys,
        under_previous_provider: s.under_previous_provider,
        jobs: s
            .jobs
            .into_iter()
            .map(|j| RekeyJobView {
                project_id: j.project_id,
                target_key_id: j.target_key_id,
                total: j.total,
                done: j.done,
                requested_by: j.requested_by,
                created_at: iso(j.created_at),
                finished_at: j.finished_at.map(iso),
                last_error: j.last_error,
            })
            .collect(),
    }))
}
