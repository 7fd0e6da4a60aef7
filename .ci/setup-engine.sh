#!/usr/bin/env bash
# Make this machine able to build and run the fixture images: Debian's docker.io
# (engine 20.10, API 1.41) and debootstrap installed, and the engine answering.
# Idempotent: does nothing when both are installed and the engine answers.
set -euo pipefail

docker_cli=/usr/bin/docker   # Debian's client; /usr/local/bin/docker may be a newer one
dockerd_log=/tmp/smconform-dockerd.log
wait_seconds=60

missing=()
[ -x /usr/sbin/dockerd ] || missing+=(docker.io)
[ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-engine: need root to install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup-engine: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "${missing[@]}"
fi

engine_answers() {
  "$docker_cli" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

if engine_answers; then
  echo "setup-engine: engine $("$docker_cli" version --format '{{.Server.Version}}') answers"
  exit 0
fi

echo "setup-engine: starting dockerd (log: $dockerd_log)"
nohup setsid /usr/sbin/dockerd >"$dockerd_log" 2>&1 </dev/null &
dockerd_pid=$!
for _ in $(seq "$wait_seconds"); do
  kill -0 "$dockerd_pid" 2>/dev/null || break   # dockerd gave up: no point waiting
  if engine_answers; then
    echo "setup-engine: engine $("$docker_cli" version --format '{{.Server.Version}}') answers"
    exit 0
  fi
  sleep 1
done
echo "setup-engine: dockerd did not answer (waited up to ${wait_seconds}s); last lines of $dockerd_log:" >&2
tail -n 30 "$dockerd_log" >&2 || true
exit 1
