"""Reward over-optimisation measured as Gao, Schulman & Hilton (2022) do: best-of-n curves of a proxy against a gold.

* :mod:`.estimator`: the unbiased best-of-n estimator over a pool of N samples per prompt, and KL_bon; and what a
  gold check sees of best-of-n (pairs of two independent picks, the proxy–gold agreement over them);
* :mod:`.fit`: Gao's form R(d) = d(α − βd), d = √KL_bon, fitted by least squares with a bootstrap over prompts,
  and the paired difference of two proxies' best-of-n gold on one pool;
* :mod:`.remedies`: ensembles of proxies (mean, worst case, mean − λ·std; Coste et al. 2023) and the gold-labelled
  pairs that refresh a proxy on its own picks, cross-fitted so no prompt is scored by a proxy that saw its labels;
* :mod:`.early_warning`: on RL runs, the step the gold peaks (with the interval it may lie in, and the step its fall
  is seen), and the lead time, false alarms and chance warning rate of the gold monitor's alarm against the naive
  signals (proxy gain per √KL, response-length drift), per run against a reference peak (an arm's seed-mean gold) and
  summarised over runs;
* :mod:`.rl_run` and :mod:`.figure`: an RL output folder read back, and its figure of proxy and gold against
  √sequence-KL and the step (``constitution rl``'s ``overoptimization.png``, and the pipeline report's).

The best-of-n modules work on score matrices (prompts × samples): sample once, score with as many models as wanted.
"""

from constitution.overoptimization.early_warning import (
    ArmWarning,
    GoldPeak,
    RunSeries,
    RunWarning,
    SignalSummary,
    WarningRules,
    arm_peak,
    early_warning,
    summarize,
    summarize_arm,
)
from constitution.overoptimization.estimator import (
    BonCurve,
    PairAgreement,
    bon_curve,
    bon_pair_weights,
    bon_weights,
    kl_bon,
    pick_pair_agreement,
    pick_scores,
)
from constitution.overoptimization.figure import draw_overoptimization, figure_lines, why_not_drawn
from constitution.overoptimization.fit import Difference, GaoFit, fit_gao, gao_fit, paired_difference
from constitution.overoptimization.remedies import (
    ENSEMBLES,
    LabelledPick,
    ensemble,
    folds,
    refresh_pairs,
)
from constitution.overoptimization.rl_run import RLRun, read_rl_run

__all__ = [
    "ENSEMBLES",
    "ArmWarning",
    "BonCurve",
    "Difference",
    "GaoFit",
    "GoldPeak",
    "PairAgreement",
    "LabelledPick",
    "RLRun",
    "RunSeries",
    "RunWarning",
    "SignalSummary",
    "WarningRules",
    "arm_peak",
    "bon_curve",
    "bon_pair_weights",
    "bon_weights",
    "draw_overoptimization",
    "early_warning",
    "figure_lines",
    "ensemble",
    "fit_gao",
    "folds",
    "gao_fit",
    "kl_bon",
    "paired_difference",
    "pick_pair_agreement",
    "pick_scores",
    "read_rl_run",
    "refresh_pairs",
    "summarize",
    "summarize_arm",
    "why_not_drawn",
]
