//! Which sizes to bench and how long: [`Size`], [`sizes`], [`quick`], [`criterion`].
//!
//! - `BENCH_SIZES=10k,100k,1m` picks dataset sizes (default `10k,100k`; 1m takes minutes to build);
//! - `BENCH_QUICK=1` (or criterion's own `--quick`) makes a short pass.

use std::time::Duration;

use criterion::Criterion;

use crate::BenchError;

/// A dataset size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Size {
    /// 10 000 captures.
    K10,
    /// 100 000 captures.
    K100,
    /// 1 000 000 captures.
    M1,
}

impl Size {
    /// The number of captures.
    pub fn captures(self) -> usize {
        match self {
            Size::K10 => 10_000,
            Size::K100 => 100_000,
            Size::M1 => 1_000_000,
        }
    }

    /// `"10k"`, `"100k"`, `"1m"`: in bench ids and file names.
    pub fn label(self) -> &'static str {
        match self {
            Size::K10 => "10k",
            Size::K100 => "100k",
            Size::M1 => "1m",
        }
    }

    /// The size written `text` (`10k`, `100k`, `1m`, case-insensitive).
    pub fn parse(text: &str) -> Option<Size> {
        match text.trim().to_ascii_lowercase().as_str() {
            "10k" => Some(Size::K10),
            "100k" => Some(Size::K100),
            "1m" | "1000k" => Some(Size::M1),
            _ => None,
        }
    }
}

/// Sizes from a `BENCH_SIZES` value.
///
/// # Errors
/// [`BenchError::Setting`] naming the bad entry.
pub fn parse_sizes(value: &str) -> Result<Vec<Size>, BenchError> {
    let mut sizes = Vec::new();
    for part in value.split(',').filter(|part| !part.trim().is_empty()) {
        let size = Size::parse(part).ok_or_else(|| BenchError::Setting {
            var: "BENCH_SIZES",
            value: value.to_owned(),
            hint: "use a comma-separated list of 10k, 100k, 1m",
        })?;
        if !sizes.contains(&size) {
            sizes.push(size);
        }
    }
    sizes.sort();
    Ok(sizes)
}

/// The sizes to bench: `BENCH_SIZES`, default 10k and 100k.
///
/// # Panics
/// On a bad `BENCH_SIZES` (a bench cannot go on without knowing its sizes).
pub fn sizes() -> Vec<Size> {
    match std::env::var("BENCH_SIZES") {
        Ok(value) => parse_sizes(&value).unwrap_or_else(|error| panic!("{error}")),
        Err(_) => vec![Size::K10, Size::K100],
    }
}

/// Whether a short pass was asked for (`BENCH_QUICK=1` or `--quick`).
pub fn quick() -> bool {
    let env = std::env::var("BENCH_QUICK").is_ok_and(|value| !value.is_empty() && value != "0");
    env || std::env::args().any(|arg| arg == "--quick")
}

/// The criterion configuration every bench uses: shorter warm-up and
/// measurement (the benches are many and the slow ones are slow), shorter
/// still under [`quick`]; command-line arguments applied last.
pub fn criterion() -> Criterion {
    let base = Criterion::default().without_plots();
    let tuned = if quick() {
        base.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
    } else {
        base.sample_size(30)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    };
    tuned.configure_from_args()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_sorted_and_deduplicated() {
        assert_eq!(
            parse_sizes("100k, 10k,100k").unwrap(),
            vec![Size::K10, Size::K100]
        );
        assert_eq!(parse_sizes("1M").unwrap(), vec![Size::M1]);
        assert!(parse_sizes("10k,2k").is_err());
    }
}
