//! `cargo xtask bench`: boots the benchmark images with deterministic guest time and
//! collects what they measure.
//!
//! Under `-icount shift=0,sleep=off` one guest instruction is one nanosecond of guest time
//! and the PMU cycle counter counts instructions, so every figure is an exact, repeatable
//! instruction count. Benchmark tasks print `BENCH <key> <value>` lines; this command
//! gathers them into a table (with the goals and the seL4 reference figures measured
//! under the same QEMU setting) and a flat JSON object.

use crate::{boards, image, manifest, qemu, workspace_root};
use anyhow::{Context, Result, bail};
use std::{collections::BTreeMap, path::Path, time::Duration};

/// A figure's goal and the seL4 reference (release build, fastpath on, same QEMU setting).
struct Reference {
    key: &'static str,
    goal_below: Option<f64>,
    sel4: Option<f64>,
    what: &'static str,
}

const REFERENCES: &[Reference] = &[
    Reference {
        key: "ipc_call_reply_ns",
        goal_below: Some(400.0),
        sel4: Some(542.0),
        what: "Call + Reply round trip to a higher-priority server in another address space",
    },
    Reference {
        key: "ipc_call_reply_same_prio_ns",
        goal_below: None,
        sel4: None,
        what: "the same, server at the client's priority",
    },
    Reference {
        key: "irq_to_oob_handler_ns",
        goal_below: Some(384.0),
        sel4: Some(384.0),
        what: "timer deadline to the first instruction of the oob handler (seL4: to its user-level handler thread)",
    },
    Reference {
        key: "irq_to_inband_handler_ns",
        goal_below: None,
        sel4: None,
        what: "timer deadline to the first instruction of an unstalled in-band domain's handler",
    },
    Reference {
        key: "stall_unstall_ns",
        goal_below: Some(20.0),
        sel4: None,
        what: "stall then unstall with nothing pending, in the domain: no kernel entry",
    },
    Reference {
        key: "unstall_replay_ns_per_event",
        goal_below: None,
        sel4: None,
        what: "unstall replaying 32 logged events, per event (sync call, replay, handler)",
    },
    Reference {
        key: "notification_signal_to_wake_ns",
        goal_below: Some(450.0),
        sel4: Some(593.0),
        what: "Signal until a higher-priority waiter in another address space runs",
    },
];

/// The benchmark images and what each must report.
const IMAGES: &[(&str, &[&str])] = &[
    (
        "bench",
        &[
            "ipc_call_reply_ns",
            "ipc_call_reply_same_prio_ns",
            "notification_signal_to_wake_ns",
        ],
    ),
    (
        "bench-pipeline",
        &[
            "irq_to_oob_handler_ns",
            "irq_to_inband_handler_ns",
            "stall_unstall_ns",
            "unstall_replay_ns_per_event",
        ],
    ),
];

/// The latmus runs: image, period (us), seconds of guest time.
const LATMUS_RUNS: &[(&str, u64, u64)] = &[
    ("latency", 1000, 2),
    ("latency", 100, 1),
    ("latency-stress", 1000, 2),
    ("latency-stress", 100, 1),
];

/// What one latmus run measured.
struct LatmusRun {
    tag: String,
    figures: BTreeMap<String, f64>,
    /// (bucket in us, samples); the last bucket of latmus also holds everything above.
    histogram: Vec<(u64, u64)>,
}

/// Runs every benchmark image on `board`; writes `json`.
pub fn run(board_name: &str, json: &Path) -> Result<i32> {
    let root = workspace_root();
    qemu::ensure_installed()?;
    let board = boards::load(&root, board_name)?;
    let mut figures = BTreeMap::new();
    for (image_name, keys) in IMAGES {
        let manifest = manifest::load(&root, image_name)?;
        manifest.check_board(&board.name)?;
        let kernel = image::build_kernel(&root, &manifest.kernel.features)?;
        let image = image::assemble(&root, &kernel, &manifest, &board, &manifest.kernel.cmdline)?;
        let options = qemu::Options {
            timeout: Some(Duration::from_secs(300)),
            capture: true,
            icount: true,
            ..Default::default()
        };
        let outcome = qemu::boot(&board, &image, &options)?;
        let found = parse(&outcome.output);
        let missing: Vec<_> = keys.iter().filter(|k| !found.contains_key(**k)).collect();
        if outcome.timed_out || outcome.status != 0 || !missing.is_empty() {
            println!("{}", outcome.output);
            bail!(
                "benchmark image '{image_name}' failed (status {}, timed out: {}, missing: {missing:?})",
                outcome.status,
                outcome.timed_out
            );
        }
        figures.extend(found);
    }
    print_table(&board.name, &figures);
    let mut runs = Vec::new();
    for &(image_name, period_us, seconds) in LATMUS_RUNS {
        runs.push(latmus_run(&root, &board, image_name, period_us, seconds)?);
    }
    print_latmus_table(&runs);
    let json = root.join(json);
    write_json(&json, &board.name, &figures, &runs)?;
    let svg = json.with_file_name("latmus.svg");
    plot_histograms(&svg, &board.name, &runs)?;
    println!("histograms drawn in {}", svg.display());
    Ok(0)
}

/// Boots `image_name` with latmus at `period_us` for `seconds` (hectic, where the image
/// has it, for as long) in deterministic time, and collects its figures and histogram.
fn latmus_run(
    root: &Path,
    board: &boards::Board,
    image_name: &str,
    period_us: u64,
    seconds: u64,
) -> Result<LatmusRun> {
    let mut manifest = manifest::load(root, image_name)?;
    manifest.check_board(&board.name)?;
    let tag = format!("{image_name}-{period_us}us");
    manifest.set_task_args(
        "latmus",
        &format!("period_us={period_us} seconds={seconds}"),
    )?;
    let has_load = manifest
        .tasks
        .iter()
        .any(|task| task.get_ref().name.get_ref() == "hectic-domain");
    let load = if has_load { "load=3 " } else { "" };
    manifest.set_task_args("latmus-report", &format!("{load}tag={tag}"))?;
    if has_load {
        for task in ["hectic-domain", "hectic-ping", "hectic-mem"] {
            manifest.set_task_args(task, &format!("seconds={seconds}"))?;
        }
    }
    let kernel = image::build_kernel(root, &manifest.kernel.features)?;
    let image = image::assemble(root, &kernel, &manifest, board, &manifest.kernel.cmdline)?;
    let options = qemu::Options {
        timeout: Some(Duration::from_secs(600)),
        capture: true,
        icount: true,
        ..Default::default()
    };
    println!(
        "latmus: {tag} on {} ({seconds} s of guest time)",
        board.name
    );
    let outcome = qemu::boot(board, &image, &options)?;
    let found = parse(&outcome.output);
    let suffix = format!(".{tag}");
    let figures: BTreeMap<String, f64> = found
        .iter()
        .filter_map(|(key, value)| Some((key.strip_suffix(&suffix)?.to_string(), *value)))
        .collect();
    if outcome.timed_out || outcome.status != 0 || !figures.contains_key("latmus_max_ns") {
        println!("{}", outcome.output);
        bail!(
            "latmus run '{tag}' failed (status {}, timed out: {})",
            outcome.status,
            outcome.timed_out
        );
    }
    Ok(LatmusRun {
        histogram: parse_histogram(&outcome.output, &tag),
        tag,
        figures,
    })
}

/// `HIST tag bucket[+] count` lines of a console.
fn parse_histogram(console: &str, tag: &str) -> Vec<(u64, u64)> {
    console
        .lines()
        .filter_map(|line| {
            let mut words = line.trim().strip_prefix("HIST ")?.split_whitespace();
            if words.next()? != tag {
                return None;
            }
            let bucket = words.next()?.trim_end_matches('+').parse().ok()?;
            Some((bucket, words.next()?.parse().ok()?))
        })
        .collect()
}

fn print_latmus_table(runs: &[LatmusRun]) {
    println!("latmus, lateness of a periodic oob task (ns of guest time):");
    println!(
        "{:<28} {:>8} {:>8} {:>8} {:>9} {:>8}",
        "image-period", "min", "avg", "max", "samples", "overruns"
    );
    for run in runs {
        let get = |key: &str| run.figures.get(key).copied().unwrap_or(f64::NAN);
        println!(
            "{:<28} {:>8.0} {:>8.0} {:>8.0} {:>9.0} {:>8.0}",
            run.tag,
            get("latmus_min_ns"),
            get("latmus_avg_ns"),
            get("latmus_max_ns"),
            get("latmus_samples"),
            get("latmus_overruns")
        );
    }
}

/// One chart: samples per 1 us bucket (log scale), a series per run.
fn plot_histograms(path: &Path, board: &str, runs: &[LatmusRun]) -> Result<()> {
    use plotters::prelude::*;
    let max_bucket = runs
        .iter()
        .flat_map(|run| run.histogram.iter().map(|&(bucket, _)| bucket))
        .max()
        .unwrap_or(0)
        + 2;
    let max_count = runs
        .iter()
        .flat_map(|run| run.histogram.iter().map(|&(_, count)| count))
        .max()
        .unwrap_or(1);
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("latmus lateness histogram, {board}, QEMU -icount shift=0,sleep=off"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0u64..max_bucket, (1u64..max_count * 2).log_scale())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("lateness (us, 1 us buckets)")
        .y_desc("samples")
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for (index, run) in runs.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        // Each bucket as a step: its count from its lower to its upper edge.
        let points: Vec<(u64, u64)> = run
            .histogram
            .iter()
            .flat_map(|&(bucket, count)| [(bucket, count), (bucket + 1, count)])
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .label(run.tag.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// `BENCH key value` lines of a console.
fn parse(console: &str) -> BTreeMap<String, f64> {
    console
        .lines()
        .filter_map(|line| {
            let mut words = line.trim().strip_prefix("BENCH ")?.split_whitespace();
            let (key, value) = (words.next()?, words.next()?.parse().ok()?);
            Some((key.to_string(), value))
        })
        .collect()
}

fn print_table(board: &str, figures: &BTreeMap<String, f64>) {
    println!("benchmarks on {board}, QEMU -icount shift=0,sleep=off (1 guest instruction = 1 ns):");
    println!(
        "{:<34} {:>10} {:>10} {:>8}  what",
        "figure", "ns", "goal", "seL4"
    );
    for (key, value) in figures {
        let reference = REFERENCES.iter().find(|r| r.key == key);
        let goal = reference.and_then(|r| r.goal_below);
        let verdict = match goal {
            Some(goal) if *value < goal => format!("< {goal:.0} ok"),
            Some(goal) => format!("< {goal:.0} MISSED"),
            None => "-".to_string(),
        };
        let sel4 = reference
            .and_then(|r| r.sel4)
            .map_or("-".to_string(), |v| format!("{v:.0}"));
        let what = reference.map_or("", |r| r.what);
        println!("{key:<34} {value:>10.1} {verdict:>10} {sel4:>8}  {what}");
    }
}

fn write_json(
    path: &Path,
    board: &str,
    figures: &BTreeMap<String, f64>,
    runs: &[LatmusRun],
) -> Result<()> {
    let mut object = serde_json::Map::new();
    object.insert("board".into(), board.into());
    object.insert("qemu_time".into(), "-icount shift=0,sleep=off".into());
    for (key, value) in figures {
        object.insert(key.clone(), (*value).into());
    }
    // latmus: per image and period, the figures and the histogram.
    let mut latmus = serde_json::Map::new();
    for run in runs {
        let mut entry = serde_json::Map::new();
        for (key, value) in &run.figures {
            entry.insert(key.clone(), (*value).into());
        }
        let histogram: Vec<serde_json::Value> = run
            .histogram
            .iter()
            .map(|&(bucket, count)| serde_json::json!([bucket, count]))
            .collect();
        entry.insert("histogram_us".into(), histogram.into());
        latmus.insert(run.tag.clone(), entry.into());
    }
    object.insert("latmus".into(), latmus.into());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(object))?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    println!("figures written to {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_bench_lines_and_ignores_the_rest() {
        let console =
            "kernel: 4 tasks\nBENCH ipc_call_reply_ns 312.4\nBENCH broken\nBENCH x notanumber\n";
        let figures = super::parse(console);
        assert_eq!(figures.len(), 1);
        assert_eq!(figures["ipc_call_reply_ns"], 312.4);
    }

    #[test]
    fn parses_one_runs_histogram() {
        let console = "HIST a 2 10\nHIST b 3 7\nHIST a 255+ 1\nHIST a x 1\n";
        assert_eq!(
            super::parse_histogram(console, "a"),
            vec![(2, 10), (255, 1)]
        );
    }
}
