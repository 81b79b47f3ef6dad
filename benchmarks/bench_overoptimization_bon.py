"""Reward over-optimisation by best-of-n (Gao, Schulman & Hilton 2022 §3): sample once, score with many proxies.

1. gold: a MiniLM reward model on the human labels of one half of HH-RLHF harmless (halves by a hash of the prompt,
   as in bench_overoptimization.py);
2. pool: --prompts single-turn prompts of the other half × --samples completions of the embedded policy
   (temperature 1);
3. proxies: MiniLM on --proxy-pairs pairs of the other half labelled by the gold (p_a = σ(r_a − r_b)); a proxy on
   hard gold labels with --label-noise of them flipped (one that differs from the gold in what it learns from);
   --members proxies of --member-pairs disjoint pairs each (the ensemble: mean, worst case, mean − λ·std);
   the smallest proxy refreshed on gold labels of its own top picks (cross-fitted over 2 folds of prompts, so no
   prompt is scored by a proxy that saw its labels; the proxy's original labels replayed 1:1);
4. per proxy: the unbiased best-of-n estimate for every n ≤ N of the gold and proxy score of the proxy's pick
   against √KL_bon, KL_bon = log n − (n−1)/n; Gao's fit R(d) = d(α − βd) of the gold gain with bootstrap intervals
   over prompts, and where the gold peaks (or that it does not). The gold's own best-of-n is the ceiling.

Every unit of work (a model trained, a chunk of the pool sampled, a model's scores of the pool) is saved in
``<out>/<name>_work`` as it finishes and skipped when the script runs again with the same settings; a ``--helper``
process shares the units. The result file ``<out>/<name>.json`` (and ``.png`` with matplotlib) is written when the
scores are in, again with the ensembles and with the refresh; ``held_out`` gives each model's accuracy on its own
held-out pairs (human labels for the gold, gold labels for the proxies; none for the refreshed ones).

  B="nice -n 19 python benchmarks/bench_overoptimization_bon.py --prompts 20 --samples 32 --proxy-pairs 30 100 300 \\
     --noisy-pairs 100 --out benchmarks/results"
  $B & $B --helper & wait     # the helper takes pool chunks and models from the other end, then stops
Smoke run: python benchmarks/bench_overoptimization_bon.py --tiny --out /tmp/bon
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, write_results  # noqa: E402
from bench_overoptimization import gold_labelled, halves  # noqa: E402


class Work:
    """The folder of finished units: a unit is done when its JSON (or model folder's marker) exists. A unit is made
    under a lock file (the maker's pid), so a --helper process can share the work: the other waits for a unit held
    by a live process and takes over one left by a dead one. The seconds each unit took when it was made are kept in
    ``timings.json`` (a rerun reports them, not its own skips)."""

    def __init__(self, folder: Path, stamp: dict) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / "settings.json"
        if marker.exists() and json.loads(marker.read_text()) != stamp:
            sys.exit(f"{folder} holds units of other settings: pass another --out or delete it")
        marker.write_text(json.dumps(stamp, indent=1))

    @property
    def timings(self) -> dict[str, float]:
        path = self.folder / "timings.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _once(self, name: str, done, make) -> None:
        """Run ``make()`` unless ``done()``, holding ``<name>.lock``."""
        lock = self.folder / f"{name}.lock"
        while not done():
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner = lock.read_text().strip() if lock.exists() else ""
                if owner and not Path(f"/proc/{owner}").exists():
                    lock.unlink(missing_ok=True)  # its maker died
                else:
                    time.sleep(5)
                continue
            try:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                if not done():
                    started = time.perf_counter()
                    make()
                    timings = self.timings | {name: round(time.perf_counter() - started, 1)}
                    (self.folder / "timings.json").write_text(json.dumps(timings, indent=1))
            finally:
                lock.unlink(missing_ok=True)

    def model(self, name: str, train) -> Path:
        """The folder of model ``name``, trained by ``train(folder)`` unless already there."""
        folder = self.folder / name
        self._once(name, (folder / "done").exists, lambda: (train(folder), (folder / "done").write_text("")))
        return folder

    def json(self, name: str, make):
        """The JSON unit ``name``, made by ``make()`` unless already there (written in one rename)."""
        path = self.folder / f"{name}.json"

        def write() -> None:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(make()))
            tmp.replace(path)

        self._once(name, path.exists, write)
        return json.loads(path.read_text())


def unit_label(model: str) -> str:
    """A unit name for a backbone: its display name made file-safe, and a hash of the full name (two folders called
    ``checkpoint-500`` are two models)."""
    from constitution.embedded_models import display_name
    from constitution.hashing import content_hash

    return f"{re.sub(r'[^A-Za-z0-9._-]+', '-', display_name(model))}-{content_hash(model)[:8]}"


def train(config, pairs, seed: int):
    """A trainer of a MiniLM reward model on ``pairs`` with ``seed``."""
    from constitution.reward import train_reward_model

    return lambda folder: train_reward_model(config.model_copy(update={"seed": seed}), pairs, folder)


def noisy(pairs, rate: float, seed: int):
    """Hard labels (the gold's side) with a share ``rate`` flipped."""
    rng = random.Random(seed)
    out = []
    for p in pairs:
        hard = 1.0 if p.p_a >= 0.5 else 0.0
        out.append(p.model_copy(update={"p_a": 1.0 - hard if rng.random() < rate else hard}))
    return out


def sample_pool(args, prompts: list, work: Work) -> list[list[str]]:
    """--samples completions per prompt, --chunk prompts per saved unit (last chunk first with --helper)."""
    from constitution.generation import render_prompt
    from constitution.llm.config import llm_config
    from constitution.llm.factory import make_llm

    policy = None
    chunks = {}
    for start in sorted(range(0, len(prompts), args.chunk), reverse=args.helper):
        def make():
            nonlocal policy
            policy = policy or make_llm(llm_config(backend="hf", model=args.policy, dtype="float32", batch_size=args.chunk))
            texts = [render_prompt(policy.tokenizer, p) for p in prompts[start : start + args.chunk]]
            return policy.generate(texts, max_tokens=args.max_new_tokens, temperature=args.temperature,
                                   n=args.samples, seed=args.seed + start)  # fmt: skip

        chunks[start] = work.json(f"pool_{start}", make)
    return [row for start in sorted(chunks) for row in chunks[start]]


def scores(work: Work, name: str, folder: Path, prompts: list, samples: list[list[str]]) -> dict:
    """Raw and normalised rewards of the pool (prompts × samples) by the model in ``folder``."""
    def make():
        from constitution.reward import RewardModel

        model = RewardModel.load(folder)
        raw = model.score([(p, s) for p, row in zip(prompts, samples) for s in row])
        n = len(samples[0])
        return {"raw": [raw[i : i + n] for i in range(0, len(raw), n)],
                "normalized": [model.normalize(raw[i : i + n]) for i in range(0, len(raw), n)]}  # fmt: skip

    return work.json(f"scores_{name}", make)


def refreshed(args, config, work: Work, proxy: Path, replay: list, gold_raw, proxy_norm, prompts, samples) -> dict:
    """The proxy refreshed on gold labels of its own top picks, cross-fitted over 2 folds of prompts: the scores of
    each fold come from the proxy refreshed on the other fold's picks."""
    from constitution.data.records import Pair
    from constitution.overoptimization import folds, refresh_pairs

    out = np.zeros_like(np.asarray(proxy_norm))
    parts = folds(len(prompts), 2, args.seed)
    for k, fold in enumerate(parts):
        others = np.concatenate([f for j, f in enumerate(parts) if j != k])
        picks = refresh_pairs(proxy_norm, gold_raw, others, top=args.refresh_top, seed=args.seed + k)
        fresh = [Pair(id=f"refresh{k}-{i}", prompt=prompts[x.row], response_a=samples[x.row][x.pick],
                      response_b=samples[x.row][x.other], p_a=x.p_pick) for i, x in enumerate(picks)]  # fmt: skip
        pairs = fresh + random.Random(args.seed + k).sample(replay, min(len(replay), len(fresh)))
        update = {"base_model": str(proxy), "pooling": "native", "eval_fraction": 0.0, "epochs": args.epochs}
        folder = work.model(f"refreshed_fold{k}", train(config.model_copy(update=update), pairs, args.seed + k))
        fold_scores = scores(work, f"refreshed_fold{k}", folder, prompts, samples)["normalized"]
        out[fold] = np.asarray(fold_scores)[fold]
    return {"normalized": out.tolist(), "fresh_pairs_per_fold": len(picks)}


ALARM_THRESHOLDS = (0.6, 0.75)  # the monitor's default, and bench_overoptimization.py's RL runs


def check_alarm_chance(agreement: float | None, decisive_share: float, threshold: float) -> float:
    """The chance one gold check alarms (the monitor's defaults otherwise: 32 pairs, ≥ 20 decisive, 95%) when each
    pair is decisive with chance ``decisive_share`` and then agrees with chance ``agreement``, pairs independent."""
    from constitution.rl.alarm import binomial_cdf, false_alarm_rate
    from constitution.rl.config import MonitorConfig

    config = MonitorConfig(threshold=threshold)
    if agreement is None:
        return 0.0
    mass = lambda m: binomial_cdf(m, config.pairs, decisive_share) - binomial_cdf(m - 1, config.pairs, decisive_share)  # noqa: E731
    return sum(mass(m) * false_alarm_rate(agreement, m, config) for m in range(config.min_decisive, config.pairs + 1))


def monitor_view(proxy, gold_raw, gold_gain: list[float], sqrt_kl: list[float]) -> dict:
    """What the gold monitor would see of best-of-n under this proxy, for n ≤ N/2 (two independent picks a pair):
    agreement, alarm chance per check, the first n where a check alarms more often than not (the warning), and its
    lead in √KL_bon over the gold's highest point; the mean alarm chance over the n below that point is the false
    alarm chance while the gold still rises."""
    from constitution.overoptimization import pick_pair_agreement

    ns = list(range(1, len(gold_raw[0]) // 2 + 1))
    view = pick_pair_agreement(proxy, gold_raw, ns)
    peak = int(np.argmax(gold_gain))  # over every n ≤ N, as the fit's empirical_peak_n
    out = {"n": ns, "decisive": view.decisive, "agreement": view.agreement, "gold_peak_n": peak + 1,
           "gold_peak_inside": peak < len(ns) - 1, "by_threshold": {}}  # fmt: skip
    for threshold in ALARM_THRESHOLDS:
        chance = [check_alarm_chance(a, d, threshold) for a, d in zip(view.agreement, view.decisive)]
        warned = next((k for k, c in enumerate(chance) if c > 0.5), None)
        out["by_threshold"][str(threshold)] = {
            "alarm_chance": chance, "warning_n": ns[warned] if warned is not None else None,
            "lead_sqrt_kl": sqrt_kl[peak] - sqrt_kl[warned] if warned is not None and out["gold_peak_inside"] else None,
            "false_alarm_chance_while_rising": float(np.mean(chance[: min(peak, len(ns))])) if peak > 0 else None,
        }  # fmt: skip
    return out


def curve(name: str, proxy, gold, args, reference=None, gold_raw=None, **fields) -> dict:
    """One proxy's best-of-n curve and Gao fit of its gold gain (and of its proxy gain), fields named for readers;
    with ``reference`` (the plain proxy a remedy starts from), the gold it keeps beyond that proxy's at n = N; with
    ``gold_raw``, what the gold monitor would see (:func:`monitor_view`)."""
    from constitution.overoptimization import bon_curve, gao_fit, paired_difference

    c = bon_curve(proxy, gold)
    fits = {w: gao_fit(proxy, gold, c.n, which=w, bootstrap=args.bootstrap, seed=args.seed).model_dump(exclude={"n"}) for w in ("gold", "proxy")}
    out = {"name": name, "seed": args.seed, **fields, **c.model_dump(), "gold_gain": fits["gold"].pop("gain"),
           "gold_gain_ci": fits["gold"].pop("gain_ci"), "fit": fits["gold"], "proxy_fit": fits["proxy"]}  # fmt: skip
    if reference is not None:
        out["gold_vs_plain_at_max_n"] = paired_difference(proxy, reference, gold, c.pool, bootstrap=args.bootstrap, seed=args.seed).model_dump()
    if gold_raw is not None:
        out["monitor"] = monitor_view(proxy, gold_raw, out["gold_gain"], c.sqrt_kl_bon)
    return out


def plot(curves: list[dict], reference: int, path: Path) -> Path | None:
    """Gain over n = 1 of the gold (solid) and proxy (dashed) score of the proxy's pick against √KL_bon: the plain
    proxies left, the remedies right beside the plain proxy of ``reference`` pairs they start from."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    left = [c for c in curves if c["kind"] in ("gold_oracle", "plain", "noisy", "other_backbone")]
    right = [c for c in curves if c["kind"] in ("gold_oracle", "ensemble", "refresh") or (c["kind"] == "plain" and c["proxy_pairs"] == reference)]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    for ax, shown in ((axes[0], left), (axes[1], right)):
        for i, c in enumerate(shown):
            ax.plot(c["sqrt_kl_bon"], c["gold_gain"], "-", color=f"C{i}", label=f"{c['name']}: gold")
            if c["kind"] != "gold_oracle":
                ax.plot(c["sqrt_kl_bon"], [p - c["proxy"][0] for p in c["proxy"]], "--", color=f"C{i}", label=f"{c['name']}: proxy")
        ax.set_xlabel("√KL_bon (nats^½), n = 1 … N")
        ax.axhline(0.0, color="grey", linewidth=0.5)
        ax.legend(fontsize=7)
    axes[0].set_title("proxies by gold-labelled pairs (solid: gold, dashed: proxy)")
    axes[1].set_title("remedies beside the plain proxy they start from")
    axes[0].set_ylabel("gain over n = 1 of the proxy's pick (normalised reward)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HH)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", default="overoptimization_bon")
    parser.add_argument("--policy", default="smollm2-135m-instruct")
    parser.add_argument("--prompts", type=int, default=30)
    parser.add_argument("--samples", type=int, default=32, help="pool size N per prompt")
    parser.add_argument("--chunk", type=int, default=5, help="prompts sampled per saved unit")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--proxy-pairs", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--noisy-pairs", type=int, default=300)
    parser.add_argument("--label-noise", type=float, default=0.3)
    parser.add_argument("--members", type=int, default=3, help="ensemble members, each on its own disjoint pairs")
    parser.add_argument("--member-pairs", type=int, default=100)
    parser.add_argument("--lam", type=float, default=1.0, help="λ of the mean − λ·std ensemble")
    parser.add_argument("--refresh-top", type=int, default=4, help="top picks per prompt labelled by the gold")
    parser.add_argument("--max-length", type=int, default=96)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--gold-epochs", type=float, default=1.0)
    parser.add_argument("--gold-pairs", type=int, default=None, help="human-labelled pairs of the gold (default: all of its half)")
    parser.add_argument("--other-backbone", default=None,
                        help="also a proxy on this backbone (e.g. smollm2-135m-instruct): one that differs from the gold in what it can see")
    parser.add_argument("--other-pairs", type=int, default=300, help="gold-labelled pairs of the --other-backbone proxy")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="smoke sizes")
    parser.add_argument("--helper", action="store_true",
                        help="share the work of a main process (same arguments): sample and train in reverse order, then stop")
    args = parser.parse_args()
    if args.tiny:
        args.prompts, args.samples, args.chunk, args.max_new_tokens, args.max_length = 4, 8, 2, 8, 64
        args.proxy_pairs, args.noisy_pairs, args.member_pairs, args.members, args.bootstrap = [16, 32], 16, 16, 2, 50
        args.gold_epochs, args.epochs, args.gold_pairs = 1.0, 1.0, 64
    from constitution.embedded_models import display_name
    from constitution.reward import RewardTrainingConfig

    started = time.perf_counter()
    config = RewardTrainingConfig(max_length=args.max_length, epochs=args.epochs, checkpoint_steps=0)
    not_stamped = ("out", "name", "bootstrap", "chunk", "helper", "other_backbone", "other_pairs")  # the other proxy's unit is named by them
    stamp = {k: v for k, v in vars(args).items() if k not in not_stamped} | {"data": str(args.data)}
    work = Work(args.out / f"{args.name}_work", stamp)
    gold_half, other_half = halves(args.data)
    pool_pairs = [p for p in other_half if len(p.prompt) == 1][: args.prompts]
    prompts = [p.prompt for p in pool_pairs]
    labelled_pool = [p for p in other_half if p not in pool_pairs]
    needed = max(max(args.proxy_pairs), args.noisy_pairs, args.members * args.member_pairs, args.other_pairs if args.other_backbone else 0)
    if needed > len(labelled_pool):
        sys.exit(f"{needed} proxy pairs asked, {len(labelled_pool)} in the proxy half beside the pool's prompts")
    curves: list[dict] = []

    def save(complete: bool = False) -> None:
        figure = plot(curves, min(args.proxy_pairs), args.out / f"{args.name}.png") if curves else None
        held_out = {m.parent.name: json.loads(m.read_text()).get("eval_metrics") for m in sorted(work.folder.glob("*/constitution_reward.json"))}
        write_results(args.out, args.name, {"settings": stamp, "complete": complete, "seconds": round(time.perf_counter() - started, 1),
                                            "unit_seconds": work.timings, "held_out": held_out, "curves": curves,
                                            "plot": str(figure) if figure else None})  # fmt: skip

    gold_dir = work.model("gold", train(config.model_copy(update={"epochs": args.gold_epochs}), gold_half[: args.gold_pairs], args.seed))
    samples = sample_pool(args, prompts, work)
    labels = gold_labelled(gold_dir, labelled_pool[:needed])
    mp = args.member_pairs
    trainings = {f"proxy_{size}": (labels[:size], args.seed) for size in args.proxy_pairs}
    trainings["proxy_noisy"] = (noisy(labels[: args.noisy_pairs], args.label_noise, args.seed), args.seed)
    trainings |= {f"member_{k}": (labels[k * mp : (k + 1) * mp], args.seed + k) for k in range(args.members)}
    if mp in args.proxy_pairs:  # member 0 has the same pairs and seed as that proxy
        trainings.pop("member_0")
    configs = dict.fromkeys(trainings, config)
    other = f"proxy_{unit_label(args.other_backbone)}_{args.other_pairs}" if args.other_backbone else None
    if other:
        trainings[other] = (labels[: args.other_pairs], args.seed)
        configs[other] = config.model_copy(update={"base_model": args.other_backbone})
    order = sorted(trainings, key=list(trainings).index, reverse=args.helper)
    folders = {name: work.model(name, train(configs[name], *trainings[name])) for name in order}
    pool = {name: np.asarray(scores(work, name, folders[name], prompts, samples)["normalized"]) for name in order}
    if args.helper:
        return 0
    if mp in args.proxy_pairs:
        pool["member_0"] = pool[f"proxy_{mp}"]
    gold = scores(work, "gold", gold_dir, prompts, samples)
    gold_raw, gold_norm = np.asarray(gold["raw"]), np.asarray(gold["normalized"])
    curves.append(curve("gold's own best-of-n", gold_norm, gold_norm, args, kind="gold_oracle", proxy_pairs=None))
    proxies = {size: pool[f"proxy_{size}"] for size in args.proxy_pairs}
    for size in args.proxy_pairs:
        curves.append(curve(f"proxy {size} pairs", proxies[size], gold_norm, args, gold_raw=gold_raw, kind="plain", proxy_pairs=size))
    curves.append(curve(f"proxy {args.noisy_pairs} pairs, {args.label_noise:.0%} hard labels flipped", pool["proxy_noisy"], gold_norm,
                        args, gold_raw=gold_raw, kind="noisy", proxy_pairs=args.noisy_pairs, label_noise=args.label_noise))  # fmt: skip
    if other:
        curves.append(curve(f"proxy {args.other_pairs} pairs on {display_name(args.other_backbone)}", pool[other], gold_norm, args,
                            proxies.get(args.other_pairs), gold_raw, kind="other_backbone", proxy_pairs=args.other_pairs,
                            backbone=display_name(args.other_backbone)))  # fmt: skip
    members = [pool[f"member_{k}"] for k in range(args.members)]
    save()
    from constitution.overoptimization import ENSEMBLES, ensemble

    for kind in ENSEMBLES:
        label = f"ensemble {args.members}×{args.member_pairs} pairs: " + (f"mean − {args.lam}·std" if kind == "mean_minus_std" else kind)
        curves.append(curve(label, ensemble(members, kind, args.lam), gold_norm, args, proxies.get(args.member_pairs), gold_raw, kind="ensemble", ensemble=kind,
                            proxy_pairs=args.member_pairs, members=args.members, lam=args.lam))  # fmt: skip
    save()
    smallest = min(args.proxy_pairs)
    fresh = refreshed(args, config, work, work.folder / f"proxy_{smallest}", labels[:smallest], gold_raw, proxies[smallest], prompts, samples)
    curves.append(curve(f"proxy {smallest} pairs, refreshed on its picks", np.asarray(fresh["normalized"]), gold_norm, args, proxies[smallest],
                        gold_raw, kind="refresh", proxy_pairs=smallest, fresh_pairs_per_fold=fresh["fresh_pairs_per_fold"]))  # fmt: skip
    save(complete=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
