"""Throughput and peak memory of batch scoring, against bare spaCy tokenisation of the same text.

    python scripts/benchmark.py                      # 2,000 and 20,000 utterances
    python scripts/benchmark.py --sizes 5000 50000 --jobs 1 2 --modes model
    python scripts/benchmark.py --profile --table --sizes 10000   # where the time goes, per step

For each corpus size it writes that many utterances as transcript files (the
bundled samples, and the annotated corpus if present, copied round-robin)
into a temporary folder, then, each in a fresh subprocess so peak memory is
its own:

* ``tokenise``: ``spacy.blank("en")`` + ``nlp.pipe`` over the same utterance texts;
* ``model -j N``: the full ``rupture-detect score`` path (read files, pipeline,
  rules and the shipped model, strategies, episodes, segments, write the four
  tables), with N worker processes;
* ``rules -j N``: the same with ``--rules-only``.

Charts are off unless ``--charts`` (matplotlib costs about 0.3 s per session).
With ``--table`` the utterances go into one CSV of many sessions (10 utterances
each), and bare tokenisation reads it with pandas.

It prints utterances per second of the work itself and of the whole process
(imports and loading included), each with its ratio to bare tokenisation,
and peak RSS (of the largest process: with workers, the parent or the
biggest worker).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def source_transcripts() -> list:
    from rupture_detect.readers.formats import read_file
    from rupture_detect.readers.inputs import ReadOptions, expand_inputs, roles_for
    paths = [ROOT / "sample_transcripts"]
    from rupture_detect.learn.corpus import corpus_dir
    corpus = corpus_dir() / "corpus.jsonl"
    if corpus.exists():
        paths.append(corpus)
    files, _ = expand_inputs(paths)
    out = []
    for f in files:
        out.extend(read_file(f.path, roles_for(ReadOptions(), f.roster)))
    assert out, "no source transcripts"
    return out


def write_corpus(folder: Path, size: int, table: bool = False) -> int:
    """Plain-text transcripts totalling ``size`` utterances (or, with ``table``, one CSV of sessions of
    at most 10 utterances: the shape researchers most often have); returns the count written."""
    transcripts = source_transcripts()
    written, i = 0, 0
    rows = []
    while written < size:
        t = transcripts[i % len(transcripts)]
        lines = []
        for u in t.utterances[: min(size - written, 10 if table else size)]:
            tag = "T" if u.speaker == "therapist" else "C" if u.speaker == "client" else "Other"
            lines.append(f"{tag}: {u.text}")
            rows.append((f"s{i:06d}", len(lines), tag, u.text))
        if not table:
            (folder / f"s{i:06d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        written += len(lines)
        i += 1
    if table:
        import csv
        with open(folder / "corpus.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["session_id", "turn", "speaker", "text"])
            w.writerows(rows)
    return written


def child_tokenise(folder: str) -> dict:
    import spacy

    from rupture_detect.readers.formats import read_file
    table = Path(folder) / "corpus.csv"
    if table.exists():          # as a researcher would: pandas reads the table
        import pandas as pd
        texts = pd.read_csv(table)["text"].astype(str).tolist()
    else:
        texts = [u.words for f in sorted(Path(folder).glob("*.txt")) for t in read_file(f) for u in t.utterances]
    nlp = spacy.blank("en")
    t0 = time.perf_counter()
    n_tokens = sum(len(d) for d in nlp.pipe(texts, batch_size=1000))
    return {"seconds": time.perf_counter() - t0, "utterances": len(texts), "tokens": n_tokens}


def child_score(folder: str, jobs: int, rules_only: bool, charts: bool = False) -> dict:
    from click.testing import CliRunner

    from rupture_detect.cli import main
    out = tempfile.mkdtemp()
    args = (["score", folder, "-o", out, "-q", "-j", str(jobs)] + (["--rules-only"] if rules_only else [])
            + (["--charts"] if charts else []))
    t0 = time.perf_counter()
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    seconds = time.perf_counter() - t0
    assert result.exit_code == 0, result.output
    n = sum(1 for _ in open(Path(out) / "utterances.csv", encoding="utf-8")) - 1   # rows (texts have no raw newlines)
    shutil.rmtree(out)
    return {"seconds": seconds, "utterances": n}


def run_child(kind: str, *args) -> dict:
    code = (f"import json, resource, sys; sys.path.insert(0, {str(ROOT / 'scripts')!r}); import benchmark as b; "
            f"r = b.child_{kind}(*{args!r}); "
            "r['peak_mb'] = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024; print(json.dumps(r))")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - t0          # the whole process: imports, loading, work
    return result


# Where the time goes: (label, file suffix, function name) whose cumulative time cProfile reports.
PROFILE_STEPS = [
    ("read input", "rupture_detect/run/batch.py", "_plan"),
    ("spaCy tokenizer", "spacy/tokenizer.pyx", "__call__"),
    ("sentencizer", "spacy/pipeline/sentencizer.pyx", "__call__"),
    ("lemmatizer", "spacy/pipeline/lemmatizer.py", "__call__"),
    ("dialogue_acts", "rupture_detect/nlp/dialogue_acts.py", "__call__"),
    ("rupture_markers", "rupture_detect/nlp/rupture_markers.py", "__call__"),
    ("repair_strategies", "rupture_detect/nlp/repair_strategies.py", "__call__"),
    ("units, gates, talk style", "rupture_detect/nlp/conversation.py", "client_units"),
    ("features", "rupture_detect/learn/features.py", "frame"),
    ("label + context model", "rupture_detect/learn/classifier.py", "probabilities_of"),
    ("strategy detector", "rupture_detect/learn/strategy_model.py", "detect"),
    ("episodes", "rupture_detect/session/episodes.py", "build"),
    ("segments", "rupture_detect/session/segments.py", "build"),
    ("write tables", "rupture_detect/writers/tables.py", "prepare"),
]


def profile(size: int, table: bool) -> None:
    """Score ``size`` utterances in this process under cProfile and print the time per step."""
    import cProfile
    import pstats

    from rupture_detect.api import make_scorer
    from rupture_detect.readers.inputs import ReadOptions, expand_inputs
    from rupture_detect.run.batch import iter_results
    from rupture_detect.writers.sinks import TableSink
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as out:
        n = write_corpus(Path(folder), size, table)
        scorer = make_scorer()
        files, _ = expand_inputs([folder])
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        with TableSink(Path(out), "csv", charts=False) as run:
            for result in iter_results(files, ReadOptions(), scorer, jobs=1):
                run.add(result)
        prof.disable()
        total = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats
    print(f"{n} utterances in {total:.2f} s ({n / total:.0f} utt/s, one process, profiler on)")
    print(f"{'step':<28} {'seconds':>8} {'us/utt':>8} {'share':>6}")
    for label, where, name in PROFILE_STEPS:
        hits = [(k, v) for k, v in stats.items() if k[2] == name and k[0].endswith(where)]
        seconds = sum(v[3] for _, v in hits)
        print(f"{label:<28} {seconds:>8.2f} {1e6 * seconds / n:>8.0f} {seconds / total:>6.1%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--modes", nargs="+", default=["model", "rules"], choices=["model", "rules"],
                    help="score with the shipped model, and/or with the rules alone")
    ap.add_argument("--charts", action="store_true", help="also draw the per-session charts (slow: matplotlib)")
    ap.add_argument("--table", action="store_true",
                    help="one CSV holding every session (10 utterances each) instead of one file per session")
    ap.add_argument("--profile", action="store_true",
                    help="instead: score the first size in one process under cProfile and print the time per step")
    args = ap.parse_args()
    if args.profile:
        profile(args.sizes[0], args.table)
        return
    print(f"{'utterances':>10} {'what':<16} {'seconds':>8} {'utt/s':>9} {'x bare':>7} {'process s':>9} "
          f"{'x bare':>7} {'peak MB':>8}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            n = write_corpus(Path(folder), size, args.table)
            bare = run_child("tokenise", folder)
            bare_rate = bare["utterances"] / bare["seconds"]
            print(f"{n:>10} {'bare tokenise':<16} {bare['seconds']:>8.2f} {bare_rate:>9.0f} {1:>7.2f} "
                  f"{bare['process_seconds']:>9.2f} {1:>7.2f} {bare['peak_mb']:>8.0f}")
            for mode in args.modes:
                for jobs in args.jobs:
                    r = run_child("score", folder, jobs, mode == "rules", args.charts)
                    rate = r["utterances"] / r["seconds"]
                    label = f"{mode} -j {jobs}"
                    print(f"{r['utterances']:>10} {label:<16} {r['seconds']:>8.2f} {rate:>9.0f} "
                          f"{rate / bare_rate:>7.2f} {r['process_seconds']:>9.2f} "
                          f"{bare['process_seconds'] / r['process_seconds']:>7.2f} {r['peak_mb']:>8.0f}",
                          flush=True)


if __name__ == "__main__":
    main()
