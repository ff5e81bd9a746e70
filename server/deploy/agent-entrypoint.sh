#!/bin/sh
# Entrypoint of the hush agent container (the hush image, installed as
# /usr/local/bin/hush-agent). One argument picks the role:
#   hush-agent init              render every template once and exit (init container)
#   hush-agent sidecar           keep the files fresh until SIGTERM (sidecar)
#   hush-agent exec -- CMD ARGS  supervise CMD with the env templates (supervisor mode)
# The mode may also come from HUSH_AGENT_MODE; the config from HUSH_AGENT_CONFIG
# (default /etc/hush-agent/agent.yaml). hush replaces this shell (exec), so it
# receives the container's signals directly and, as PID 1, reaps orphans.
set -eu

config="${HUSH_AGENT_CONFIG:-/etc/hush-agent/agent.yaml}"
mode="${HUSH_AGENT_MODE:-}"
if [ "$#" -gt 0 ] && [ "$1" != "--" ]; then
    mode="$1"
    shift
fi
if [ ! -r "$config" ]; then
    echo "hush-agent: cannot read the agent config $config (mount it, or set HUSH_AGENT_CONFIG)" >&2
    exit 2
fi

case "$mode" in
    init)
        exec hush agent --config "$config" --exit-after-render ;;
    sidecar | "")
        exec hush agent --config "$config" ;;
    exec)
        [ "${1:-}" = "--" ] && shift
        exec hush agent --config "$config" --exec -- "$@" ;;
    *)
        echo "hush-agent: unknown mode '$mode' (use init, sidecar or exec -- CMD)" >&2
        exit 2 ;;
esac
