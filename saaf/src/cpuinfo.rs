//! Parser for `/proc/cpuinfo`: CPU type (model name), model and the number of processors.

/// Facts about the CPU from `/proc/cpuinfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CpuInfo {
    /// `model name` of the first processor (x86). On ARM, where there is none, a description
    /// built from `CPU implementer` and `CPU part` (or `Hardware`).
    pub cpu_type: Option<String>,
    /// `model` of the first processor (x86), or `CPU part` on ARM.
    pub cpu_model: Option<String>,
    /// Number of `processor` entries.
    pub cores: u64,
}

/// Parses the text of `/proc/cpuinfo`.
pub(crate) fn parse(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    let mut model_name = None;
    let mut model = None;
    let mut implementer = None;
    let mut part = None;
    let mut hardware = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let first = |slot: &mut Option<String>| {
            if slot.is_none() && !value.is_empty() {
                *slot = Some(value.to_string());
            }
        };
        match key.trim() {
            "processor" => info.cores += 1,
            "model name" => first(&mut model_name),
            "model" => first(&mut model),
            "CPU implementer" => first(&mut implementer),
            "CPU part" => first(&mut part),
            "Hardware" => first(&mut hardware),
            _ => {}
        }
    }
    info.cpu_type = model_name.or_else(|| match (&implementer, &part) {
        (Some(i), Some(p)) => Some(format!("CPU implementer {i} part {p}")),
        _ => hardware,
    });
    info.cpu_model = model.or(part);
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n\
model\t\t: 1\nmodel name\t: AMD EPYC 7R13 Processor\nflags\t\t: fpu vme\n\n\
processor\t: 1\nvendor_id\t: AuthenticAMD\nmodel\t\t: 1\nmodel name\t: AMD EPYC 7R13 Processor\n";

    const ARM: &str = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd\n\
CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd0c\n\
CPU revision\t: 1\n\nprocessor\t: 1\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n\n\
processor\t: 2\n\nprocessor\t: 3\n";

    #[test]
    fn x86_model_name_model_and_cores() {
        let info = parse(X86);
        assert_eq!(info.cpu_type.as_deref(), Some("AMD EPYC 7R13 Processor"));
        assert_eq!(info.cpu_model.as_deref(), Some("1"));
        assert_eq!(info.cores, 2);
    }

    #[test]
    fn arm_without_model_name_uses_implementer_and_part() {
        let info = parse(ARM);
        assert_eq!(
            info.cpu_type.as_deref(),
            Some("CPU implementer 0x41 part 0xd0c")
        );
        assert_eq!(info.cpu_model.as_deref(), Some("0xd0c"));
        assert_eq!(info.cores, 4);
    }

    #[test]
    fn empty_text_has_no_type_and_no_cores() {
        assert_eq!(parse(""), CpuInfo::default());
    }
}
