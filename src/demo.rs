//! `ledgerlens demo`: the main job on the bundled demo company.

use std::io::Write;
use std::path::Path;

use crate::output::Format;

/// Runs the demo.
pub fn run(_out: &mut dyn Write, _format: Format, _dir: Option<&Path>) -> anyhow::Result<()> {
    anyhow::bail!("the demo data is not bundled yet")
}
