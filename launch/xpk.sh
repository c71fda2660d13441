#!/usr/bin/env bash
# Run rlpjax as a GKE workload with xpk (one JobSet over --num-slices TPU slices; xpk sets the MEGASCALE_*
# variables of multi-slice jobs and JAX finds its peers itself).
#
#   launch/xpk.sh ACTION --cluster CLUSTER [options] [-- rlpjax train arguments]
#
# Actions:
#   create   `xpk workload create` running `rlpjax train ARGS` on every host of every slice
#   list     `xpk workload list` for the cluster
#   delete   `xpk workload delete` of --workload
#   logs     follow the logs of slice 0, host 0 of --workload (kubectl; needs the cluster's credentials)
#
# Options:
#   --cluster NAME          GKE cluster made by `xpk cluster create` [env XPK_CLUSTER]
#   --workload NAME         workload name (lowercase, digits, dashes; default rlpjax-<user>) [env XPK_WORKLOAD]
#   --tpu-type TYPE         e.g. v5p-128, v5litepod-16, v6e-64 (create)
#   --num-slices N          slices (default 1)
#   --project P / --zone Z  passed to xpk (default: gcloud's configured ones)
#   --docker-image IMG      a pre-built image with rlpjax installed (runs `python -m rlpjax.cli train`)
#   --base-docker-image IMG the image xpk builds upon with this checkout copied in (default python:3.11); the
#                           command first runs `pip install -e '.[gcp]' jax[tpu]` inside it
#   --xpk-arg ARG           one more argument for `xpk workload create` (repeatable), e.g. --xpk-arg=--priority=high
#   --dry-run               print the exact commands, one per line, shell-quoted, instead of running them
#                           (also recognised after --)
#   -h, --help              this text
#
# Example:
#   launch/xpk.sh create --cluster my-v5p --tpu-type v5p-128 --num-slices 2 --workload rlp-g8 \
#       -- --config experiments/rlp_qwen3_1p7b.py rlp.group_size=8 run.run_dir=/mnt/bucket/runs/rlp-g8
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "xpk.sh: error: $*" >&2; exit 2; }

ACTION="${1:-}"
case "$ACTION" in
  -h|--help|"") usage; exit 0 ;;
  create|list|delete|logs) shift ;;
  *) die "unknown action '$ACTION'; choose create, list, delete or logs (see --help)" ;;
esac

CLUSTER="${XPK_CLUSTER:-}" WORKLOAD="${XPK_WORKLOAD:-rlpjax-$(id -un | tr -c 'a-z0-9\n' '-')}" TPU_TYPE=""
NUM_SLICES=1 PROJECT="" ZONE="" IMAGE="" BASE_IMAGE="python:3.11" DRY_RUN=0 XPK_ARGS=() TRAIN_ARGS=()
need() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --cluster) need "$@"; CLUSTER="$2"; shift 2 ;;
    --workload) need "$@"; WORKLOAD="$2"; shift 2 ;;
    --tpu-type) need "$@"; TPU_TYPE="$2"; shift 2 ;;
    --num-slices) need "$@"; NUM_SLICES="$2"; shift 2 ;;
    --project) need "$@"; PROJECT="$2"; shift 2 ;;
    --zone) need "$@"; ZONE="$2"; shift 2 ;;
    --docker-image) need "$@"; IMAGE="$2"; shift 2 ;;
    --base-docker-image) need "$@"; BASE_IMAGE="$2"; shift 2 ;;
    --xpk-arg=*) XPK_ARGS+=("${1#--xpk-arg=}"); shift ;;
    --xpk-arg) need "$@"; XPK_ARGS+=("$2"); shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift
        # --dry-run is a launcher flag wherever it stands (rlpjax train has none): never pass it on and run for real.
        for arg in "$@"; do if [ "$arg" = --dry-run ]; then DRY_RUN=1; else TRAIN_ARGS+=("$arg"); fi; done
        break ;;
    *) die "unknown option '$1' (rlpjax train arguments go after --)" ;;
  esac
done

[ -n "$CLUSTER" ] || die "--cluster is required (or set XPK_CLUSTER)"
[[ "$NUM_SLICES" =~ ^[1-9][0-9]*$ ]] || die "--num-slices must be a positive integer, got '$NUM_SLICES'"
[[ "$WORKLOAD" =~ ^[a-z]([a-z0-9-]*[a-z0-9])?$ ]] \
  || die "--workload '$WORKLOAD' must be lowercase letters, digits and dashes, starting with a letter"
LOCATION=()
[ -z "$PROJECT" ] || LOCATION+=(--project="$PROJECT")
[ -z "$ZONE" ] || LOCATION+=(--zone="$ZONE")

# shellcheck source=launch/dry_run.sh
source "$(dirname "${BASH_SOURCE[0]}")/dry_run.sh"  # sq and run (run prints instead under --dry-run)

do_create() {
  [ -n "$TPU_TYPE" ] || die "create needs --tpu-type (e.g. v5p-128)"
  [ ${#TRAIN_ARGS[@]} -gt 0 ] || die "create needs the rlpjax train arguments after --, e.g. -- --config experiments/x.py"
  local quoted="" arg image_args command
  for arg in "${TRAIN_ARGS[@]}"; do quoted+=" $(sq "$arg")"; done
  if [ -n "$IMAGE" ]; then
    image_args=(--docker-image="$IMAGE")
    command="python -m rlpjax.cli train$quoted"
  else
    image_args=(--base-docker-image="$BASE_IMAGE" --script-dir="$ROOT")
    command="pip install -q -e '.[gcp]' 'jax[tpu]' && python -m rlpjax.cli train$quoted"
  fi
  run xpk workload create --cluster="$CLUSTER" --workload="$WORKLOAD" --tpu-type="$TPU_TYPE" \
    --num-slices="$NUM_SLICES" "${LOCATION[@]}" "${image_args[@]}" ${XPK_ARGS[@]+"${XPK_ARGS[@]}"} \
    --command="$command"
}

do_list() { run xpk workload list --cluster="$CLUSTER" "${LOCATION[@]}"; }

do_delete() { run xpk workload delete --cluster="$CLUSTER" --workload="$WORKLOAD" "${LOCATION[@]}"; }

do_logs() {
  local get_credentials=(gcloud container clusters get-credentials "$CLUSTER")
  [ -z "$PROJECT" ] || get_credentials+=(--project="$PROJECT")
  [ -z "$ZONE" ] || get_credentials+=(--location="${ZONE%-*}")
  run "${get_credentials[@]}"
  run kubectl logs --follow --tail=200 --prefix \
    --selector="jobset.sigs.k8s.io/jobset-name=$WORKLOAD,jobset.sigs.k8s.io/job-index=0,batch.kubernetes.io/job-completion-index=0"
}

if [ "$DRY_RUN" = 0 ]; then
  tool=xpk
  [ "$ACTION" != logs ] || tool=kubectl
  command -v "$tool" >/dev/null || die "$tool is not installed (pip install xpk; kubectl comes with gcloud components)"
fi
"do_$ACTION"
