"""The README's tables from a benchmark's results, and the JSON file they are kept in."""

import json
from pathlib import Path

from bench.settings import (
    TARGET_CHART_OVERHEAD,
    TARGET_CONCURRENT_P95_MS,
    TARGET_DURING_TRAINING_P95_MS,
    TARGET_THROUGHPUT_RATIO,
)


def _yes_no(flag) -> str:
    return "yes" if flag else "**no**"


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB"


def _sharing(machine: dict) -> str:
    shares = machine.get("cpu_shares_during_run")
    if not shares:
        return ""
    return (f" The CPUs were {shares['busy']:.0%} busy and {shares['stolen']:.0%} taken by other virtual machines "
            "during the run (a shared host: absolute times vary, ratios much less).")


def markdown_table(results: dict) -> str:
    """The README table: one row per figure, ours beside the baseline of the same run, and whether it is met."""
    machine = results["machine"]
    device = machine["gpu"] and f"GPU: {machine['gpu']}"
    here = device or f"CPU, {machine['cores']} cores"
    other = "CPU" if device else "GPU"
    sections = results["sections"]
    lines = [
        f"Measured {machine['date'][:10]} on {machine['cpu']} ({machine['cores']} cores, "
        f"{', '.join(machine['cpu_flags']) or 'no AVX'}), TensorFlow {machine['tensorflow']}, "
        f"Keras {machine['keras']}, {'quick mode' if results['quick'] else 'full mode'}, "
        f"{results.get('seconds', {}).get('total', 0) / 60:.1f} minutes.{_sharing(machine)}",
        "",
        f"| Measure | Ours ({here}) | Baseline, same run | Ratio | Target | Met | {other} |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(measure, ours, baseline, ratio, target, met):
        lines.append(f"| {measure} | {ours} | {baseline} | {ratio} | {target} | {met} | not measured |")

    def failed(name):
        section = sections.get(name, {})
        if "error" in section:
            row(name.replace("_", " "), "failed: " + section["error"].splitlines()[0][:80], "", "", "", "")
            return True
        return name not in sections

    if not failed("training_throughput"):
        throughput = sections["training_throughput"]
        configs = throughput["configs"]
        seed = configs["seed"]
        rounds = throughput.get("rounds", 1)
        for name in [name for name in ("defaults", throughput.get("verdict", {}).get("default")) if name in configs]:
            config = configs[name]
            spread = (f" ({config['speedup_min']:.2f}-{config['speedup_max']:.2f}×)"
                      if "speedup_min" in config else "")
            row(f"1. Training throughput, {config['label'].removeprefix('ours, ')}, median of {rounds} rounds",
                f"{config['images_per_second']:,.0f} img/s, test acc {config['test_accuracy']:.2%}",
                f"{seed['images_per_second']:,.0f} img/s, test acc {seed['test_accuracy']:.2%}",
                f"{config['speedup_vs_seed']:.2f}×{spread}", f"≥ {TARGET_THROUGHPUT_RATIO:g}×, acc ≥ seed",
                _yes_no(config["meets_target"]))
    if not failed("chart_overhead"):
        section = sections["chart_overhead"]
        medians = section["median_seconds"]
        per = f"s per {section['steps_per_fit']} steps"
        control = section["overheads"]["none_again"]
        for variant, title in (("charts", "progress callback + reader polling every 0.5 s"),
                               ("app", "train()'s per-batch callbacks + reader")):
            overhead = section["overheads"][variant]
            row(f"2. Live-chart overhead, {title}",
                f"{medians[variant]:.2f} {per}; CPU time {section['cpu_overheads'][variant]:+.1%}",
                f"{medians['none']:.2f} {per} (no callbacks); no-callback control {control:+.1%}",
                f"{overhead:+.1%}", "≤ 5%", _yes_no(overhead <= TARGET_CHART_OVERHEAD))
    if not failed("prediction_latency"):
        section = sections["prediction_latency"]
        for architecture, model_row in section["models"].items():
            row(f"3. Drawing → prediction, {architecture}",
                f"p50 {model_row['ours']['p50_ms']:.1f} ms, p95 {model_row['ours']['p95_ms']:.1f} ms",
                f"p50 {model_row['baseline']['p50_ms']:.1f} ms, p95 {model_row['baseline']['p95_ms']:.1f} ms "
                "(model.predict)", f"{model_row['speedup_p50']:.1f}× faster", "≤ 10 ms, ≥ 5×",
                _yes_no(model_row["meets_target"]))
    if not failed("training_memory"):
        section = sections["training_memory"]
        ways = section["ways"]
        row(f"4. Peak memory, training on {ways['ours']['images']:,} CIFAR-sized images",
            _gib(ways["ours"]["peak_rss_bytes"]), _gib(ways["float32"]["peak_rss_bytes"]) + " (float32 / 255)",
            f"{section['ratio']:.2f}× ({section['ratio_above_runtime']:.2f}× above TensorFlow's own "
            f"{_gib(ways['ours']['runtime_rss_bytes'])})", "≤ 0.5×", _yes_no(section["meets_target"]))
    if not failed("time_to_accuracy"):
        for name, run in sections["time_to_accuracy"]["runs"].items():
            if "skipped" in run:
                row(f"5. Time to accuracy, {name.replace('_', ' ')}", "not measured: " + run["skipped"], "", "", "",
                    "")
                continue
            changes = [f"{key} {value}" for key, value in run["changed_from_defaults"].items()]
            setup = f"{run['architecture']} on {run['dataset']} ({', '.join(changes) or 'registry defaults'})"
            if name == "digit_model":
                setup = f"default digit model: {setup}"
            if run["reached"]:
                ours = f"{run['seconds_to_target']:.0f} s ({run['epochs_to_target']} epochs)"
            else:
                ours = (f"not reached in {run['cap_seconds']:.0f} s: best {run['best_test_accuracy']:.2%} "
                        f"at {run['best_at_seconds']:.0f} s ({len(run['epochs'])} epochs)")
                if run.get("cap_shortened_by_time_budget"):
                    ours += ", cap shortened to keep the run within its time budget"
            row(f"5. Time to {run['target_accuracy']:.1%} test acc., {setup}", ours, "–", "–",
                f"≤ {run['target_seconds']:.0f} s", _yes_no(run["meets_target"]))
    if not failed("browser"):
        section = sections["browser"]
        if "skipped" in section:
            row("6. Browser: home render, canvas release → prediction", "not measured: " + section["skipped"],
                "", "", "", "")
        else:
            home = section["home"]
            row("6. Home page first render (navigation → idle)", f"{home['first_visit_ms']:.0f} ms first visit, "
                f"{home['later_visits_median_ms']:.0f} ms later", "–", "–", "–", "–")
            draw = section["draw"]
            if "skipped" in draw:
                row("6. Canvas mouse release → \"Prediction\" shown", "not measured: " + draw["skipped"], "", "",
                    "≤ 1 s", "")
            else:
                row(f"6. Canvas mouse release → \"Prediction\" shown ({len(draw['release_to_prediction_ms'])} "
                    "drawings)", f"median {draw['median_ms']:.0f} ms; first drawing on the page "
                    f"{draw['first_ms']:.0f} ms, later ones median {draw['later_median_ms']:.0f} ms, "
                    f"max {max(draw['release_to_prediction_ms'][1:]):.0f} ms", "–", "–", "≤ 1 s",
                    _yes_no(draw["meets_target"]))
    if not failed("concurrent_predictions"):
        section = sections["concurrent_predictions"]
        single = section["threads"].get("1")
        for threads, thread_row in section["threads"].items():
            if threads == "1":
                continue
            baseline = (f"1 thread: p50 {single['p50_ms']:.1f} ms, p95 {single['p95_ms']:.1f} ms, "
                        f"{single['readings_per_second']:,.0f}/s" if single else "–")
            correct = ("all answers equal the single-thread ones" if thread_row["wrong_answers"] == 0
                       else f"**{thread_row['wrong_answers']} wrong answers**")
            row(f"7. Drawings read at once, {threads} visitors × {section['readings_per_thread']} drawings, "
                "one shared model", f"p50 {thread_row['p50_ms']:.0f} ms, p95 {thread_row['p95_ms']:.0f} ms, "
                f"max {thread_row['max_ms']:.0f} ms; {thread_row['readings_per_second']:,.0f} drawings/s; "
                f"{correct}", baseline,
                f"p95 {thread_row['p95_ms'] / single['p95_ms']:.1f}×" if single else "–",
                f"all right, p95 ≤ {TARGET_CONCURRENT_P95_MS / 1000:g} s",
                _yes_no(thread_row["wrong_answers"] == 0 and thread_row["p95_ms"] <= TARGET_CONCURRENT_P95_MS))
    if not failed("prediction_during_training"):
        section = sections["prediction_during_training"]
        during, idle, trained = section["during_training"], section["idle"], section["training"]
        row(f"8. Drawing → prediction while the queue trains {trained['architecture']} "
            f"({trained['images_per_second']:,.0f} img/s)",
            f"p50 {during['p50_ms']:.1f} ms, p95 {during['p95_ms']:.1f} ms, max {during['max_ms']:.0f} ms "
            f"({during['readings']} drawings)",
            f"p50 {idle['p50_ms']:.1f} ms, p95 {idle['p95_ms']:.1f} ms (queue idle)",
            f"p95 {section['p95_ratio']:.1f}×", f"p95 ≤ {TARGET_DURING_TRAINING_P95_MS:g} ms",
            _yes_no(section["meets_target"]))
    lines += ["", *fast_path_table(results)]
    cost = cost_tables(results)
    if cost:
        lines += ["", *cost]
    return "\n".join(lines)


def fast_path_table(results: dict) -> list[str]:
    """The second table: every candidate training set-up, against the seeds' way round by round, and the verdict."""
    sections = results["sections"]
    throughput = sections.get("training_throughput", {})
    if "configs" not in throughput:
        return []
    rounds = throughput.get("rounds", 1)
    lines = [f"| Candidate (cnn, mnist_sample, {rounds} rounds) | Images/s (median) | vs seeds' way: median "
             "(min-max) | Faster than shipped default | Test accuracy (median) | Chart updates/s | Qualifies |",
             "|---|---|---|---|---|---|---|"]
    for config in throughput["configs"].values():
        wins = f"{config['rounds_won']} of {rounds} rounds" if "rounds_won" in config else "–"
        pace = config.get("chart_updates_per_second")
        qualifies = _yes_no(config["qualifies"]) if "qualifies" in config else "–"
        lines.append(f"| {config['label']} | {config['images_per_second']:,.0f} | "
                     f"{config['speedup_vs_seed']:.2f}× ({config.get('speedup_min', 0):.2f}-"
                     f"{config.get('speedup_max', 0):.2f}×) | {wins} | {config['test_accuracy']:.2%} | "
                     f"{'–' if pace is None else f'{pace:.1f}'} | {qualifies} |")
    if "verdict" in throughput:
        lines += ["", f"Verdict ({throughput['rule']}): **{throughput['verdict']['text']}**."]
    threads = sections.get("thread_settings", {})
    if threads.get("settings"):
        lines += ["", "| Thread setting (shipped defaults, own process) | Images/s | vs TensorFlow's default |",
                  "|---|---|---|"]
    for setting in threads.get("settings", []):
        name = "TensorFlow's default" if setting["inter_op"] == 0 else \
            f"inter_op {setting['inter_op']}, intra_op {setting['intra_op']}"
        lines.append(f"| {name} | {setting['images_per_second']:,.0f} | {setting['speedup_vs_default']:.2f}× |")
    return lines


def _mib(size: float) -> str:
    return f"{size / 2**20:,.0f} MiB"


def cost_tables(results: dict) -> list[str]:
    """The cost section's two tables (time and memory against training images and against depth) and its fits."""
    section = results["sections"].get("cost")
    if not section:
        return []
    if "error" in section or "skipped" in section:
        reason = section.get("skipped") or "failed: " + section["error"].splitlines()[0][:80]
        return [f"Cost against size and depth: not measured ({reason})."]
    sizes, depths = section["size"], section["depth"]
    first = sizes["points"][0]
    lines = [f"| Training images ({first['architecture']}, {section['dataset']}, batch {first['batch_size']}) | "
             "Seconds per epoch | Images/s | Peak memory | Of which training images |", "|---:|---:|---:|---:|---:|"]
    for point in sizes["points"]:
        lines.append(f"| {point['images']:,} | {point['seconds_per_epoch']:.2f} | "
                     f"{point['images'] / point['seconds_per_epoch']:,.0f} | {_mib(point['peak_rss_bytes'])} | "
                     f"{point['data_bytes'] / 2**20:.1f} MiB |")
    time_fit, memory_fit = sizes["fit"]["time"], sizes["fit"]["memory"]
    lines += ["", f"Fit against size: {time_fit['intercept']:.2f} s + {time_fit['slope'] * 1e6:.1f} µs per image "
                  f"(R² {time_fit['r_squared']:.4f}); memory {_mib(memory_fit['intercept'])} + "
                  f"{memory_fit['slope']:,.0f} bytes per image (R² {memory_fit['r_squared']:.4f}; one image's "
                  f"pixels and label are {memory_fit.get('bytes_per_image_of_data', 0):,.0f} bytes).", ""]
    first = depths["points"][0]
    lines += [f"| Hidden layers (dnn, width 100, {first['images']:,} images, batch {first['batch_size']}) | "
              "Parameters | Seconds per epoch | Peak memory |", "|---:|---:|---:|---:|"]
    for point in depths["points"]:
        lines.append(f"| {point['depth']} | {point['parameters']:,} | {point['seconds_per_epoch']:.2f} | "
                     f"{_mib(point['peak_rss_bytes'])} |")
    time_fit, memory_fit = depths["fit"]["time"], depths["fit"]["memory"]
    per_step = depths["fit"]["time_per_step"]
    lines += ["", f"Fit against depth: {time_fit['intercept']:.2f} s + {time_fit['slope']:.3f} s per layer "
                  f"(R² {time_fit['r_squared']:.4f}; per step {per_step['fixed_seconds_per_step'] * 1e3:.2f} ms "
                  f"fixed + {per_step['seconds_per_step_per_layer'] * 1e3:.3f} ms per layer; the fixed part is "
                  f"{time_fit['fixed_share_at_smallest']:.0%} of the shallowest epoch); memory "
                  f"{_mib(memory_fit['intercept'])} + {memory_fit['slope'] / 2**20:.2f} MiB per layer "
                  f"(R² {memory_fit['r_squared']:.4f})."]
    return lines


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(results, indent=2, default=float) + "\n")
    partial.replace(path)
