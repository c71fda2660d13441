#!/usr/bin/env bash
# Run rlpjax on a Cloud TPU VM slice (or several slices) with gcloud.
#
#   launch/tpu_vm.sh ACTION --name NAME --zone ZONE [options] [-- rlpjax train arguments]
#
# Actions:
#   create   create the slice (reused when it already exists); --num-slices N > 1 asks for N slices through a
#            queued resource (`gcloud compute tpus queued-resources create --node-count N`, nodes NAME-0..NAME-N-1)
#   setup    install rlpjax on every worker (--worker=all): copy this checkout (default), or --git URL [--ref REF],
#            or --pip SPEC (a wheel or a git+https URL); then create ~/rlpjax/.venv and pip install '.[gcp]' with jax[tpu]
#   train    run `rlpjax train ARGS` on every worker (--worker=all) of every slice, detached, logging to
#            ~/rlpjax/logs/train.log on each worker (--foreground keeps it attached); multi-slice runs get the
#            MEGASCALE_* variables (coordinator = worker 0 of slice 0)
#   logs     tail worker --worker W's log (default 0; slice --slice S for multi-slice)
#   status   describe the slice (or queued resource)
#   stop     stop a single-slice VM (keeps its disk; queued resources cannot be stopped: delete them)
#   delete   delete the slice (a queued resource is deleted with its nodes)
#
# Options:
#   --name NAME           TPU (or queued resource) name [env TPU_NAME]
#   --zone ZONE           zone, e.g. us-east5-a [env TPU_ZONE]
#   --project PROJECT     project (default: gcloud's configured one) [env TPU_PROJECT]
#   --accelerator TYPE    accelerator type, e.g. v5p-128, v4-32, v5litepod-16, v6e-64 (create)
#   --runtime VERSION     TPU software version (default by generation: v4 tpu-ubuntu2204-base, v5e
#                         v2-alpha-tpuv5-lite, v5p v2-alpha-tpuv5, v6e v2-alpha-tpuv6e)
#   --spot | --preemptible  cheaper, preemptible capacity (create; queued resources take --spot only)
#   --num-slices N        slices joined over the data-centre network (default 1)
#   --git URL / --ref REF / --pip SPEC / --jax-spec SPEC   how setup installs (default jax spec: jax[tpu])
#   --coordinator IP      multi-slice coordinator IP (default: looked up from NAME-0 with describe)
#   --worker W / --slice S   which worker / slice `logs` reads
#   --foreground          keep `train` attached to the terminal instead of detaching
#   --dry-run             print the exact commands, one per line, shell-quoted, instead of running them
#                         (also recognised after --)
#   -h, --help            this text
#
# Example:
#   launch/tpu_vm.sh create --name rlp --zone us-east5-a --accelerator v5p-128 --spot
#   launch/tpu_vm.sh setup --name rlp --zone us-east5-a
#   launch/tpu_vm.sh train --name rlp --zone us-east5-a -- --config experiments/rlp_qwen3_1p7b.py rlp.group_size=8
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REMOTE_DIR='~/rlpjax'  # expanded by the worker's shell
SRC_TARBALL="${TMPDIR:-/tmp}/rlpjax-src.tar.gz"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "tpu_vm.sh: error: $*" >&2; exit 2; }

ACTION="${1:-}"
case "$ACTION" in
  -h|--help|"") usage; exit 0 ;;
  create|setup|train|logs|status|stop|delete) shift ;;
  *) die "unknown action '$ACTION'; choose create, setup, train, logs, status, stop or delete (see --help)" ;;
esac

NAME="${TPU_NAME:-}" ZONE="${TPU_ZONE:-}" PROJECT="${TPU_PROJECT:-}" ACCEL="" RUNTIME="" CAPACITY=""
NUM_SLICES=1 GIT_URL="" GIT_REF="" PIP_SPEC="" JAX_SPEC="jax[tpu]" COORDINATOR="" WORKER=0 SLICE=0
FOREGROUND=0 DRY_RUN=0 TRAIN_ARGS=()
need() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --name) need "$@"; NAME="$2"; shift 2 ;;
    --zone) need "$@"; ZONE="$2"; shift 2 ;;
    --project) need "$@"; PROJECT="$2"; shift 2 ;;
    --accelerator) need "$@"; ACCEL="$2"; shift 2 ;;
    --runtime) need "$@"; RUNTIME="$2"; shift 2 ;;
    --spot) CAPACITY="--spot"; shift ;;
    --preemptible) CAPACITY="--preemptible"; shift ;;
    --num-slices) need "$@"; NUM_SLICES="$2"; shift 2 ;;
    --git) need "$@"; GIT_URL="$2"; shift 2 ;;
    --ref) need "$@"; GIT_REF="$2"; shift 2 ;;
    --pip) need "$@"; PIP_SPEC="$2"; shift 2 ;;
    --jax-spec) need "$@"; JAX_SPEC="$2"; shift 2 ;;
    --coordinator) need "$@"; COORDINATOR="$2"; shift 2 ;;
    --worker) need "$@"; WORKER="$2"; shift 2 ;;
    --slice) need "$@"; SLICE="$2"; shift 2 ;;
    --foreground) FOREGROUND=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift
        # --dry-run is a launcher flag wherever it stands (rlpjax train has none): never pass it on and run for real.
        for arg in "$@"; do if [ "$arg" = --dry-run ]; then DRY_RUN=1; else TRAIN_ARGS+=("$arg"); fi; done
        break ;;
    *) die "unknown option '$1' (rlpjax train arguments go after --)" ;;
  esac
done

[ -n "$NAME" ] || die "--name is required (or set TPU_NAME)"
[ -n "$ZONE" ] || die "--zone is required (or set TPU_ZONE)"
[[ "$NUM_SLICES" =~ ^[1-9][0-9]*$ ]] || die "--num-slices must be a positive integer, got '$NUM_SLICES'"
[ -z "$PIP_SPEC" ] || [ -z "$GIT_URL" ] || die "give either --git or --pip, not both"

LOCATION=(--zone="$ZONE")
[ -z "$PROJECT" ] || LOCATION+=(--project="$PROJECT")

# shellcheck source=launch/dry_run.sh
source "$(dirname "${BASH_SOURCE[0]}")/dry_run.sh"  # sq and run (run prints instead under --dry-run)

# The TPU VM nodes: NAME for one slice, NAME-0 .. NAME-(N-1) for a queued multi-slice resource.
nodes() {
  if [ "$NUM_SLICES" = 1 ]; then echo "$NAME"; else seq -f "$NAME-%g" 0 $((NUM_SLICES - 1)); fi
}

default_runtime() {
  case "$1" in
    v4-*) echo "tpu-ubuntu2204-base" ;;
    v5litepod-*|v5e-*) echo "v2-alpha-tpuv5-lite" ;;
    v5p-*) echo "v2-alpha-tpuv5" ;;
    v6e-*) echo "v2-alpha-tpuv6e" ;;
    *) die "no default runtime for accelerator '$1'; pass --runtime" ;;
  esac
}

exists() {
  [ "$DRY_RUN" = 0 ] || return 1
  if [ "$NUM_SLICES" = 1 ]; then
    gcloud compute tpus tpu-vm describe "$NAME" "${LOCATION[@]}" >/dev/null 2>&1
  else
    gcloud compute tpus queued-resources describe "$NAME" "${LOCATION[@]}" >/dev/null 2>&1
  fi
}

do_create() {
  [ -n "$ACCEL" ] || die "create needs --accelerator (e.g. v5p-128)"
  local runtime="${RUNTIME:-$(default_runtime "$ACCEL")}"
  if exists; then echo "[tpu_vm] $NAME already exists in $ZONE: reusing it"; return; fi
  if [ "$NUM_SLICES" = 1 ]; then
    run gcloud compute tpus tpu-vm create "$NAME" "${LOCATION[@]}" --accelerator-type="$ACCEL" \
      --version="$runtime" ${CAPACITY:+"$CAPACITY"}
  else
    [ "$CAPACITY" != "--preemptible" ] || die "queued resources take --spot, not --preemptible"
    run gcloud compute tpus queued-resources create "$NAME" "${LOCATION[@]}" --accelerator-type="$ACCEL" \
      --runtime-version="$runtime" --node-count="$NUM_SLICES" --node-prefix="$NAME" ${CAPACITY:+"$CAPACITY"}
  fi
}

do_setup() {
  local install venv="python3 -m venv .venv && .venv/bin/pip install -q -U pip"
  if [ -n "$PIP_SPEC" ]; then
    install="mkdir -p $REMOTE_DIR && cd $REMOTE_DIR && $venv && .venv/bin/pip install -q $(sq "$PIP_SPEC") $(sq "$JAX_SPEC")"
  elif [ -n "$GIT_URL" ]; then
    local url ref; url="$(sq "$GIT_URL")"; ref="$(sq "${GIT_REF:-HEAD}")"
    install="(test -d $REMOTE_DIR/.git || git clone $url $REMOTE_DIR) && cd $REMOTE_DIR && git fetch -q $url $ref && git checkout -q FETCH_HEAD && $venv && .venv/bin/pip install -q -e '.[gcp]' $(sq "$JAX_SPEC")"
  else
    run tar -czf "$SRC_TARBALL" -C "$ROOT" --exclude=.git --exclude=.venv --exclude=runs --exclude=__pycache__ \
      --exclude='*.egg-info' .
    install="mkdir -p $REMOTE_DIR && tar -xzf ~/rlpjax-src.tar.gz -C $REMOTE_DIR && cd $REMOTE_DIR && $venv && .venv/bin/pip install -q -e '.[gcp]' $(sq "$JAX_SPEC")"
  fi
  local node
  for node in $(nodes); do
    [ -n "$PIP_SPEC$GIT_URL" ] || run gcloud compute tpus tpu-vm scp "$SRC_TARBALL" "$node:~/rlpjax-src.tar.gz" \
      --worker=all "${LOCATION[@]}"
    run gcloud compute tpus tpu-vm ssh "$node" --worker=all "${LOCATION[@]}" --command="set -e; $install"
  done
}

# The multi-slice coordinator: worker 0 of slice 0 (NAME-0), from --coordinator or `describe`; a dry run prints
# the lookup and writes COORDINATOR_IP in its place.
coordinator_ip() {
  local lookup=(gcloud compute tpus tpu-vm describe "$NAME-0" "${LOCATION[@]}"
                --format='value(networkEndpoints[0].ipAddress)')
  if [ -n "$COORDINATOR" ]; then return; fi
  if [ "$DRY_RUN" = 1 ]; then run "${lookup[@]}"; COORDINATOR="COORDINATOR_IP"; return; fi
  COORDINATOR="$("${lookup[@]}")"
  [ -n "$COORDINATOR" ] || die "could not read the IP of $NAME-0 worker 0; pass --coordinator IP"
}

do_train() {
  [ ${#TRAIN_ARGS[@]} -gt 0 ] || die "train needs the rlpjax train arguments after --, e.g. -- --config experiments/x.py"
  local quoted="" arg
  for arg in "${TRAIN_ARGS[@]}"; do quoted+=" $(sq "$arg")"; done
  local train=".venv/bin/rlpjax train$quoted"
  if [ "$FOREGROUND" = 0 ]; then
    train="nohup $train > logs/train.log 2>&1 < /dev/null & echo \"[tpu_vm] \$(hostname): training in the background, log $REMOTE_DIR/logs/train.log\""
  fi
  local slice=0 node env pids=()
  [ "$NUM_SLICES" = 1 ] || coordinator_ip
  for node in $(nodes); do
    env=""
    if [ "$NUM_SLICES" != 1 ]; then
      env="export MEGASCALE_COORDINATOR_ADDRESS=$COORDINATOR:8080 MEGASCALE_NUM_SLICES=$NUM_SLICES MEGASCALE_SLICE_ID=$slice MEGASCALE_PORT=8080; "
    fi
    # Slices start together (each waits for the others to join), so an attached multi-slice run backgrounds them.
    if [ "$DRY_RUN" = 0 ] && [ "$FOREGROUND" = 1 ] && [ "$NUM_SLICES" != 1 ]; then
      run gcloud compute tpus tpu-vm ssh "$node" --worker=all "${LOCATION[@]}" \
        --command="cd $REMOTE_DIR && mkdir -p logs && ${env}$train" &
      pids+=($!)
    else
      run gcloud compute tpus tpu-vm ssh "$node" --worker=all "${LOCATION[@]}" \
        --command="cd $REMOTE_DIR && mkdir -p logs && ${env}$train"
    fi
    slice=$((slice + 1))
  done
  local pid status=0
  for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" || status=1; done
  [ "$status" = 0 ] || die "training failed on at least one slice (see the output above)"
}

do_logs() {
  local node="$NAME"
  [ "$NUM_SLICES" = 1 ] || node="$NAME-$SLICE"
  run gcloud compute tpus tpu-vm ssh "$node" --worker="$WORKER" "${LOCATION[@]}" \
    --command="tail -n 200 -F $REMOTE_DIR/logs/train.log"
}

do_status() {
  if [ "$NUM_SLICES" = 1 ]; then run gcloud compute tpus tpu-vm describe "$NAME" "${LOCATION[@]}"
  else run gcloud compute tpus queued-resources describe "$NAME" "${LOCATION[@]}"; fi
}

do_stop() {
  [ "$NUM_SLICES" = 1 ] || die "queued resources cannot be stopped; use delete (checkpoints let the run resume)"
  run gcloud compute tpus tpu-vm stop "$NAME" "${LOCATION[@]}"
}

do_delete() {
  if [ "$NUM_SLICES" = 1 ]; then run gcloud compute tpus tpu-vm delete "$NAME" "${LOCATION[@]}" --quiet
  else run gcloud compute tpus queued-resources delete "$NAME" "${LOCATION[@]}" --force --quiet; fi
}

if [ "$DRY_RUN" = 0 ] && ! command -v gcloud >/dev/null; then
  die "gcloud is not installed; install the Google Cloud SDK (or use --dry-run to see the commands)"
fi
"do_$ACTION"
