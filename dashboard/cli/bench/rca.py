"""`warroom bench rca`: segment localization scored on a Squeeze-layout dataset.

`bench.py` owns the `bench` command group and calls `register_rca` with its
sub-parsers; this module owns only the `rca` entry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dashboard.core.bench.rca import run_benchmark

# report key -> table header
COLUMNS = {"f1": "F1", "precision": "precision", "recall": "recall", "hit_at_3": "hit@3",
           "tolerant_hit_at_3": "tol.hit@3", "answers_per_case": "answers", "seconds_per_case": "s/case",
           "cases": "cases"}


def register_rca(bench_subparsers) -> argparse.ArgumentParser:
    parser = bench_subparsers.add_parser(
        "rca", help="score segment localization on a root-cause dataset (Squeeze layout)",
        description="Localize every case of DIR (settings folders with injection_info.csv; "
                    "{ts}.csv[.gz] additive cases or {ts}.a.csv + {ts}.b.csv ratio cases) "
                    "and report exact-match F1, precision, recall, hit@3 and seconds per case.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", metavar="DIR", type=Path,
                        help="dataset folder, e.g. the rca-b0 benchmark")
    source.add_argument("--realistic", metavar="DIR", type=Path,
                        help="the production-shaped rate set (rca_realistic): written into DIR "
                             "unless DIR already holds it, then scored")
    source.add_argument("--synthetic", metavar="DIR", type=Path,
                        help="the synthetic rate set in the derived a/b layout (rca_synthetic): written into DIR "
                             "unless DIR already holds it, then scored")
    parser.add_argument("--seed", type=int, default=0, help="generator seed for --realistic/--synthetic (default 0)")
    parser.add_argument("--cases", type=int, default=None,
                        help="cases per setting for --realistic (default: the published set's size)")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument("--method", choices=("auto", "labels", "pooled", "shared"), default="auto",
                        help="localization engine (default auto: leaf labels when leaves are "
                             "decisive, pooled evidence otherwise); the others are for ablation")
    parser.set_defaults(func=run_rca)
    return parser


def run_rca(args: argparse.Namespace) -> int:
    dataset = args.dataset or args.realistic or args.synthetic
    if dataset is not args.dataset and not any(p.is_file() for p in dataset.glob("*/injection_info.csv")):
        from dashboard.core.bench import rca_realistic, rca_synthetic

        if args.realistic is not None:
            extra = {} if args.cases is None else {"cases_per_setting": args.cases}
            rca_realistic.write_dataset(dataset, seed=args.seed, **extra)
        else:
            rca_synthetic.write_dataset(dataset, seed=args.seed)
    report = run_benchmark(dataset, method=args.method).to_json_dict()
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(report))
    return 0


def format_table(report: dict) -> str:
    rows = [(name, scores) for name, scores in report["settings"].items()]
    rows.append(("overall", report["overall"]))
    width = max(len(name) for name, _ in rows)
    header = f"{'setting':<{width}}  " + "  ".join(f"{h:>9}" for h in COLUMNS.values())
    lines = [header, "-" * len(header)]
    for name, scores in rows:
        cells = "  ".join(f"{scores[c]:>9}" if c == "cases" else f"{scores[c]:>9.3f}" for c in COLUMNS)
        lines.append(f"{name:<{width}}  {cells}")
    return "\n".join(lines) + "\n"
