#!/usr/bin/env bash
# The CPU benchmarks of BENCHMARKS.md, one after the other on a quiet machine (`make bench`); results go to
# benchmarks/results/. Several hours on a 2-core box: the reward-training comparison alone is 5 seeds of each trainer.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=benchmarks/results
step() { echo "== $(date -u +%H:%M:%S) $*"; "$@"; }
step $PY benchmarks/bench_labeling.py --pairs 256 --repeats 2 --methods ours raw --out $OUT   # 4 paired blocks, interval on the ratio
step $PY benchmarks/bench_labeler_scale.py --sizes 10000 100000 1000000 --out $OUT
step $PY benchmarks/bench_dtype.py --pairs 64 --out $OUT
step $PY benchmarks/bench_ray.py --pairs 48 --repeats 2 --out $OUT
OMP_NUM_THREADS=1 step $PY benchmarks/bench_diff.py --pairs 96 --repeats 3 --out $OUT
step $PY benchmarks/bench_revise.py --prompts 32 --rounds 2 --max-tokens 96 --repeats 3 --out $OUT
step $PY benchmarks/bench_jury.py --pairs 64 --out $OUT
step $PY benchmarks/bench_heads.py --seeds 5 --out $OUT
OMP_NUM_THREADS=1 step $PY benchmarks/bench_process.py --skip-judge --seeds 0 1 2 --train-problems 128 --per-problem 4 --test 40 --bon-problems 20 --pool 64 --draws 8 --epochs 4 --name bench_process_cross_step_large --out $OUT
step $PY benchmarks/bench_reward_dtype.py --n 256 --rounds 3 --server-call 32 --alone 32 --out $OUT
step $PY benchmarks/bench_service.py --clients 32 --requests 16 --repeats 5 --out $OUT
OMP_NUM_THREADS=2 step $PY benchmarks/bench_rl_rewards.py --steps 6 --repeats 3 --bursts 10 --ray-repeats 5 --out $OUT
RT="$PY benchmarks/bench_reward_training.py --train 1600 --val 200 --seeds 0 1 2 3 4 --epochs 1 --same-hparams --trl-length-grouped --trl-lrs 3e-5 1e-4 3e-4"
step $RT --ours '{"freeze_layers": 0, "freeze_embeddings": false, "pooling": "native"}' --out $OUT/trl_unfrozen   # the same weights, unfrozen
step $RT --trl-freeze-like-ours --out $OUT/trl_frozen   # the same weights, frozen like ours
OMP_NUM_THREADS=1 step $PY benchmarks/bench_injection.py --pairs 48
OO="$PY benchmarks/bench_overoptimization.py --steps 30 --lr 5e-5 --seeds 0 1 2 --refresh-every 10 --out $OUT"
step $OO --prepare-only   # gold and proxy with both cores, then one process per arm, one core each
OMP_NUM_THREADS=1 step $OO --variants monitor_only --name overoptimization_monitor_only &
OMP_NUM_THREADS=1 step $OO --variants refresh --name overoptimization_refresh &
wait -n   # each wait -n fails the script if that process failed
wait -n
step $PY benchmarks/bench_overoptimization.py --merge $OUT/overoptimization_monitor_only.json $OUT/overoptimization_refresh.json --out $OUT --name overoptimization
step $PY benchmarks/bench_overoptimization_bon.py --prompts 20 --samples 32 --proxy-pairs 30 100 300 --noisy-pairs 100 --out $OUT
echo "== $(date -u +%H:%M:%S) done"
