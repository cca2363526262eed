#!/usr/bin/env bash
# Prints a short-lived JWT for the run endpoints of the local default (signed with .run/jwt.key).
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL_JWT_KEY="$(cat "${VIGIL_RUN_DIR:-$PWD/.run}/jwt.key")" .venv/bin/python - <<'PY'
import os, time
from jose import jwt
claims = {"sub": "local-operator", "aud": "vigil", "iss": "vigil-local", "scope": "vigil:run", "exp": int(time.time()) + 600}
print(jwt.encode(claims, os.environ["VIGIL_JWT_KEY"], algorithm="HS256"))
PY
