//! The payload's layout: what follows the kernel in an image.
//!
//! ```text
//! 0                  Header + BootInfo (postcard)
//!                    task records (postcard, `boot_info::encode_task`), 8-byte aligned
//! RECORDS_END        (64 KiB) segment data: each program's load segments, each from a
//!                    page boundary, zero padded to the next; a program that several
//!                    tasks run is stored once
//! ```
//!
//! Every offset (`System::tasks`, `Segment::file_offset`) counts from the start of the
//! payload. A kernel-only image (`system: None`) is the header and `BootInfo` alone.

use crate::{
    programs::Program,
    system::{PAGE, Plan},
};
use anyhow::{Context, Result, anyhow, ensure};
use boot_info::{BootInfo, MAX_SEGMENTS, Segment};
use std::collections::BTreeMap;

/// End of the area for the boot info and the task records; segment data starts here.
pub const RECORDS_END: usize = 64 * 1024;

/// Lays out the payload for `info` (whose `system` is replaced) and, when there is one,
/// the system of `plan` running `programs` (by crate name).
pub fn build<'a>(
    mut info: BootInfo<'a>,
    plan: Option<Plan<'a>>,
    programs: &BTreeMap<String, Program>,
) -> Result<Vec<u8>> {
    let mut payload = vec![0u8; RECORDS_END];
    let Some(plan) = plan else {
        info.system = None;
        let len = encode(&info, &mut payload)?;
        payload.truncate(len);
        return Ok(payload);
    };

    // Segment data, once per program.
    let mut placed: BTreeMap<&str, (u64, heapless::Vec<Segment, MAX_SEGMENTS>)> = BTreeMap::new();
    for task in &plan.tasks {
        if placed.contains_key(task.crate_name) {
            continue;
        }
        let program = programs
            .get(task.crate_name)
            .with_context(|| format!("no program for crate '{}'", task.crate_name))?;
        let mut segments = heapless::Vec::new();
        for segment in &program.segments {
            let file_offset = payload.len() as u64;
            payload.extend_from_slice(&segment.data);
            payload.resize(payload.len().next_multiple_of(PAGE as usize), 0);
            let segment = Segment {
                vaddr: segment.vaddr,
                mem_size: segment.mem_size,
                file_offset,
                file_size: segment.data.len() as u64,
                flags: segment.flags,
            };
            segments.push(segment).map_err(|_| {
                anyhow!(
                    "{}: task '{}': crate '{}' has {} load segments (at most {MAX_SEGMENTS})",
                    task.place,
                    task.record.name,
                    task.crate_name,
                    program.segments.len()
                )
            })?;
        }
        placed.insert(task.crate_name, (program.entry, segments));
    }

    // Task records, complete with their programs.
    let mut records = Vec::new();
    for task in &plan.tasks {
        let (entry, segments) = &placed[task.crate_name];
        let record = boot_info::Task {
            entry: *entry,
            segments: segments.clone(),
            ..task.record.clone()
        };
        let mut buffer = vec![0u8; RECORDS_END];
        let len = boot_info::encode_task(&record, &mut buffer).map_err(|error| {
            anyhow!(
                "{}: task '{}': encoding its record: {error}",
                task.place,
                task.record.name
            )
        })?;
        buffer.truncate(len);
        records.push(buffer);
    }

    // The boot info with the largest offsets bounds its size: records start after that.
    let mut system = plan.system;
    system.tasks.fill((u32::MAX, u32::MAX));
    info.system = Some(system.clone());
    let mut offset = encode(&info, &mut payload[..RECORDS_END])?.next_multiple_of(8);
    let records_start = offset;
    for (slot, record) in system.tasks.iter_mut().zip(&records) {
        let end = offset + record.len();
        ensure!(
            end <= RECORDS_END,
            "the boot info and task records take more than the {} KiB the payload has for \
             them (fewer tasks or capabilities, or shorter names)",
            RECORDS_END / 1024
        );
        payload[offset..end].copy_from_slice(record);
        *slot = (offset as u32, record.len() as u32);
        offset = end;
    }
    info.system = Some(system);
    payload[..records_start].fill(0);
    encode(&info, &mut payload[..records_start])?;
    Ok(payload)
}

fn encode(info: &BootInfo<'_>, out: &mut [u8]) -> Result<usize> {
    boot_info::encode(info, out).map_err(|error| {
        anyhow!(
            "encoding the boot info ({error}): it must fit in the first {} KiB of the payload",
            RECORDS_END / 1024
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        manifest::tests::{load_with, write_tree},
        programs::{self, tests::fake_elf},
        system,
    };
    use boot_info::{GrantObject, SEGMENT_EXECUTE, SEGMENT_READ, SEGMENT_WRITE};
    use kernel_abi::{Rights, layout};
    use object::elf::{PF_R, PF_W, PF_X};

    const BASE: u64 = layout::PROGRAM_BASE;

    fn info() -> BootInfo<'static> {
        BootInfo {
            image: "test",
            board: "virt-gicv3",
            cmdline: "ticks=5",
            description: None,
            system: None,
        }
    }

    #[test]
    fn a_kernel_only_payload_is_the_boot_info_alone() {
        let payload = build(info(), None, &BTreeMap::new()).unwrap();
        let mut expected = [0u8; 256];
        let len = boot_info::encode(&info(), &mut expected).unwrap();
        assert_eq!(payload, expected[..len]);
    }

    #[test]
    fn tasks_resolve_through_the_payload() {
        let dir = write_tree(
            r#"description = "t"
boards = ["virt-gicv3"]
endpoints = ["pingpong", "faults"]
notifications = ["done"]
shared = [{ name = "buf", size = 8192 }]

[[task]]
name = "supervisor"
crate = "super"
priority = 250
stack = 8192
regions = [8192, 4096]
caps = [
  { name = "faults", endpoint = "faults", rights = ["read"] },
  { name = "client", thread = "client", restart = true },
  { name = "power", system-control = true },
  { name = "irqctl", irq-control = true },
]

[[task]]
name = "client"
crate = "pingpong"
priority = 10
fault-endpoint = "faults"
start = false
caps = [
  { name = "server", endpoint = "pingpong", rights = ["write", "grant"], badge = 7 },
  { name = "done", notification = "done", rights = ["write"] },
  { name = "buf", shared = "buf", rights = ["read", "write"] },
  { name = "uart", irq = 33 },
]

[[task]]
name = "client2"
crate = "pingpong"
priority = 10
"#,
        );
        let manifest = load_with(&dir, &["super", "pingpong"]).unwrap();
        let text = vec![0xaa; 5000];
        let mut programs = BTreeMap::new();
        programs.insert(
            "super".to_string(),
            programs::read(&fake_elf(
                BASE + 8,
                &[
                    (BASE, 0x2000, PF_R | PF_X, &text),
                    (BASE + 0x2000, 0x3000, PF_R | PF_W, b"data"),
                ],
            ))
            .unwrap(),
        );
        programs.insert(
            "pingpong".to_string(),
            programs::read(&fake_elf(BASE, &[(BASE, 0x1000, PF_R | PF_X, b"pong")])).unwrap(),
        );
        let plan = system::plan(&manifest).unwrap();
        let payload = build(info(), plan, &programs).unwrap();
        assert!(payload.len().is_multiple_of(4096));

        let decoded = boot_info::decode(&payload).unwrap();
        assert_eq!((decoded.image, decoded.cmdline), ("test", "ticks=5"));
        let system = decoded.system.as_ref().unwrap();
        assert_eq!(system.endpoints, ["pingpong", "faults"]);
        assert_eq!(system.notifications, ["done"]);
        assert_eq!(
            system.shared,
            [boot_info::Shared {
                name: "buf",
                size: 8192
            }]
        );
        assert_eq!(system.tasks.len(), 3);
        let task = |i| boot_info::decode_task(&payload, system, i).unwrap();
        let (supervisor, client, client2) = (task(0), task(1), task(2));
        for &(offset, len) in &system.tasks {
            assert!(offset as usize + len as usize <= RECORDS_END);
        }

        assert_eq!(
            (supervisor.name, supervisor.priority, supervisor.stack_size),
            ("supervisor", 250, 8192)
        );
        assert_eq!(supervisor.entry, BASE + 8);
        assert_eq!(supervisor.regions, [8192, 4096]);
        assert_eq!((supervisor.fault_endpoint, supervisor.start), (None, true));
        let segment_bytes = |s: &Segment| {
            assert!(s.file_offset as usize >= RECORDS_END);
            assert!(s.file_offset.is_multiple_of(4096));
            &payload[s.file_offset as usize..][..s.file_size as usize]
        };
        let [text_segment, data_segment] = supervisor.segments.as_slice() else {
            panic!("{:?}", supervisor.segments)
        };
        assert_eq!(
            (
                text_segment.vaddr,
                text_segment.mem_size,
                text_segment.flags
            ),
            (BASE, 0x2000, SEGMENT_READ | SEGMENT_EXECUTE)
        );
        assert_eq!(segment_bytes(text_segment), text.as_slice());
        assert_eq!(
            (
                data_segment.vaddr,
                data_segment.mem_size,
                data_segment.flags
            ),
            (BASE + 0x2000, 0x3000, SEGMENT_READ | SEGMENT_WRITE)
        );
        assert_eq!(segment_bytes(data_segment), b"data");
        assert_eq!(text_segment.file_offset, RECORDS_END as u64);
        assert_eq!(data_segment.file_offset, RECORDS_END as u64 + 0x2000);

        fn summary<'a>(
            task: &boot_info::Task<'a>,
        ) -> Vec<(&'a str, u32, GrantObject, u8, u64, u8)> {
            task.grants
                .iter()
                .map(|g| (g.name, g.slot, g.object, g.rights, g.badge, g.flags))
                .collect()
        }
        let all = Rights::ALL.bits();
        assert_eq!(
            summary(&supervisor),
            [
                (
                    "faults",
                    1,
                    GrantObject::Endpoint(1),
                    Rights::READ.bits(),
                    0,
                    0
                ),
                (
                    "client",
                    2,
                    GrantObject::Thread(1),
                    all,
                    0,
                    layout::START_CAP_RESTART
                ),
                ("power", 3, GrantObject::SystemControl, all, 0, 0),
                ("irqctl", 4, GrantObject::IrqControl, all, 0, 0),
            ]
        );
        assert_eq!(
            summary(&client),
            [
                (
                    "server",
                    1,
                    GrantObject::Endpoint(0),
                    (Rights::WRITE | Rights::GRANT).bits(),
                    7,
                    0
                ),
                (
                    "done",
                    2,
                    GrantObject::Notification(0),
                    Rights::WRITE.bits(),
                    0,
                    0
                ),
                (
                    "buf",
                    3,
                    GrantObject::Shared(0),
                    Rights::READ_WRITE.bits(),
                    0,
                    0
                ),
                ("uart", 4, GrantObject::IrqHandler(33), all, 0, 0),
            ]
        );
        assert_eq!(client.fault_endpoint, Some((1, 2)));
        assert_eq!((client.start, client.stack_size), (false, 16384));

        // Two tasks running one program share its segment data.
        assert_eq!(client.segments, client2.segments);
        assert_eq!(client2.entry, BASE);
        assert_eq!(client2.name, "client2");
        assert_eq!(segment_bytes(&client.segments[0]), b"pong");
        assert_eq!(client.segments[0].file_offset, RECORDS_END as u64 + 0x3000);
        assert_eq!(payload.len(), RECORDS_END + 0x4000);
    }

    fn refusal(info: BootInfo<'_>, manifest: &str, program: &[u8]) -> String {
        let dir = write_tree(manifest);
        let manifest = load_with(&dir, &["a"]).unwrap();
        let programs = BTreeMap::from([("a".to_string(), programs::read(program).unwrap())]);
        match build(info, system::plan(&manifest).unwrap(), &programs) {
            Ok(payload) => panic!("laid out a payload of {} bytes", payload.len()),
            Err(error) => error.to_string(),
        }
    }

    const ONE_TASK: &str = "description = \"t\"\nboards = [\"virt-gicv3\"]\n\n[[task]]\nname = \"a\"\ncrate = \"a\"\npriority = 1\n";

    #[test]
    fn refuses_too_many_segments() {
        let five: Vec<_> = (0..5)
            .map(|i| (BASE + i * 0x1000, 0x1000, PF_R | PF_X, b"x".as_slice()))
            .collect();
        let error = refusal(info(), ONE_TASK, &fake_elf(BASE, &five));
        assert!(
            error.contains("test.toml:4:1: task 'a': crate 'a' has 5 load segments (at most 4)"),
            "{error}"
        );
    }

    #[test]
    fn refuses_records_beyond_64_kib() {
        // A command line that leaves the boot info just short of 64 KiB: at some length the
        // task record no longer fits after it; longer still, the boot info itself does not.
        let program = fake_elf(BASE, &[(BASE, 0x1000, PF_R | PF_X, b"x")]);
        let errors: Vec<String> = (RECORDS_END - 200..=RECORDS_END)
            .step_by(8)
            .filter_map(|len| {
                let cmdline = "x".repeat(len);
                let dir = write_tree(ONE_TASK);
                let manifest = load_with(&dir, &["a"]).unwrap();
                let programs =
                    BTreeMap::from([("a".to_string(), programs::read(&program).unwrap())]);
                let info = BootInfo {
                    cmdline: &cmdline,
                    ..info()
                };
                build(info, system::plan(&manifest).unwrap(), &programs)
                    .err()
                    .map(|error| error.to_string())
            })
            .collect();
        assert!(
            errors.iter().any(|error| error
                == "the boot info and task records take more than the 64 KiB the payload has \
                    for them (fewer tasks or capabilities, or shorter names)"),
            "{errors:?}"
        );
        assert!(
            errors.last().unwrap().starts_with("encoding the boot info")
                && errors
                    .last()
                    .unwrap()
                    .ends_with("first 64 KiB of the payload"),
            "{errors:?}"
        );
    }
}
