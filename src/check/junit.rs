//! Checks as JUnit XML (`--junit FILE.xml`): one test suite per migration, one test case per
//! check. `error` failures are `<failure>`s; `warn` failures pass with their finding in
//! `<system-out>`; skipped checks are `<skipped>`.

use std::fmt::Write as _;
use std::path::Path;

use super::result::{CheckResult, CheckStatus};
use crate::error::{FerryError, Result};

/// (suite name, its checks), e.g. (migration, checks).
pub fn junit_xml(suites: &[(String, Vec<CheckResult>)]) -> String {
    let count = |status: CheckStatus| suites.iter().flat_map(|(_, c)| c).filter(|c| c.status == status).count();
    let total: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"ferry checks\" tests=\"{total}\" failures=\"{}\" skipped=\"{}\">",
        count(CheckStatus::Failed),
        count(CheckStatus::Skipped)
    );
    for (suite, checks) in suites {
        let failures = checks.iter().filter(|c| c.status == CheckStatus::Failed).count();
        let skipped = checks.iter().filter(|c| c.status == CheckStatus::Skipped).count();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
            escape(suite),
            checks.len()
        );
        for check in checks {
            let _ = write!(xml, "    <testcase classname=\"{}\" name=\"{}\"", escape(suite), escape(&check.name));
            match check.status {
                CheckStatus::Passed => xml.push_str("/>\n"),
                CheckStatus::Failed => {
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                        escape(&check.summary()),
                        check.kind,
                        escape(&check.sample_text())
                    );
                }
                CheckStatus::Warned => {
                    let _ = writeln!(
                        xml,
                        ">\n      <system-out>warning: {}\n{}</system-out>\n    </testcase>",
                        escape(&check.summary()),
                        escape(&check.sample_text())
                    );
                }
                CheckStatus::Skipped => {
                    let reason = check.detail.clone().unwrap_or_default();
                    let _ = writeln!(xml, ">\n      <skipped message=\"{}\"/>\n    </testcase>", escape(&reason));
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

pub fn write_junit(path: &Path, suites: &[(String, Vec<CheckResult>)]) -> Result<()> {
    std::fs::write(path, junit_xml(suites)).map_err(|source| FerryError::Io { path: path.to_path_buf(), source })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
