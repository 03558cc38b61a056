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
    write_json(&root.join(json), &board.name, &figures)?;
    Ok(0)
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

fn write_json(path: &Path, board: &str, figures: &BTreeMap<String, f64>) -> Result<()> {
    let mut object = serde_json::Map::new();
    object.insert("board".into(), board.into());
    object.insert("qemu_time".into(), "-icount shift=0,sleep=off".into());
    for (key, value) in figures {
        object.insert(key.clone(), (*value).into());
    }
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
}
