//! The project configuration, `ledgerlens.yaml`.

use std::path::{Path, PathBuf};

use ledgerlens_adapter::SourceOptions;
use serde::{Deserialize, Serialize};

use crate::accounts::AccountRule;
use crate::Error;

/// The configuration file's name inside a project folder.
pub const CONFIG_FILE: &str = "ledgerlens.yaml";

/// A project: where the database is, which pack to run, the sources and the chart of
/// accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Database folder, relative to the project folder.
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// The client's rule pack folder, relative to the project folder.
    #[serde(default = "default_pack")]
    pub pack: PathBuf,
    /// The sources, in ingest order.
    #[serde(default)]
    pub sources: Vec<SourceOptions>,
    /// Chart-of-accounts rules, checked before the standard defaults.
    #[serde(default)]
    pub accounts: Vec<AccountRule>,
}

fn default_database() -> PathBuf {
    PathBuf::from(".ledgerlens/db")
}

fn default_pack() -> PathBuf {
    PathBuf::from("rules")
}

impl Default for ProjectConfig {
    fn default() -> ProjectConfig {
        ProjectConfig {
            database: default_database(),
            pack: default_pack(),
            sources: Vec::new(),
            accounts: Vec::new(),
        }
    }
}

impl ProjectConfig {
    /// Reads `ledgerlens.yaml` from a project folder.
    pub fn load(dir: &Path) -> Result<ProjectConfig, Error> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Config {
            path: path.clone(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "not found (run `ledgerlens init DIR` to create a project, or pass --project DIR)"
                    .to_string()
            } else {
                e.to_string()
            },
        })?;
        ProjectConfig::parse(&text, &path)
    }

    /// Parses configuration text; errors name `path`, line and column.
    pub fn parse(text: &str, path: &Path) -> Result<ProjectConfig, Error> {
        let config: ProjectConfig = if text.trim().is_empty() {
            ProjectConfig::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| Error::Config {
                path: path.to_path_buf(),
                message: match e.location() {
                    Some(l) => {
                        let text = e.to_string();
                        let suffix = format!(" at line {} column {}", l.line(), l.column());
                        let text = text.strip_suffix(&suffix).unwrap_or(&text);
                        format!("line {}, column {}: {text}", l.line(), l.column())
                    }
                    None => e.to_string(),
                },
            })?
        };
        let mut seen = std::collections::BTreeSet::new();
        for s in &config.sources {
            let system = s.system();
            if system.is_empty() || system.contains([':', ' ', '\t', '\0']) {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    message: format!(
                        "source '{}': the code system '{system}' must be non-empty, without ':' or spaces (customer ids are system:code)",
                        s.name
                    ),
                });
            }
            if let Err(message) = s.check_command() {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    message: format!("source '{}': {message}", s.name),
                });
            }
            if !seen.insert(s.name.as_str()) {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    message: format!("two sources are named '{}'", s.name),
                });
            }
        }
        Ok(config)
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Result<&SourceOptions, Error> {
        self.sources.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.sources.iter().map(|s| s.name.as_str()).collect();
            Error::Source(format!(
                "no source named '{name}' in the configuration (sources: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        })
    }

    /// The first source whose `files` patterns match `file` (a path relative to the
    /// project folder, or absolute).
    pub fn source_for(&self, project: &Path, file: &Path) -> Result<&SourceOptions, Error> {
        let rel = file.strip_prefix(project).unwrap_or(file);
        let candidates = [rel.to_path_buf(), file.to_path_buf()];
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        for source in &self.sources {
            for pattern in &source.files {
                let Ok(p) = glob::Pattern::new(pattern) else {
                    continue;
                };
                let full = glob::Pattern::new(&project.join(pattern).to_string_lossy()).ok();
                if candidates.iter().any(|c| p.matches_path_with(c, opts))
                    || full.is_some_and(|f| f.matches_path_with(file, opts))
                {
                    return Ok(source);
                }
            }
        }
        Err(Error::Source(format!(
            "{}: no source in the configuration matches this file; name one with --source NAME or add its path to a source's `files`",
            file.display()
        )))
    }

    /// The files of a source, expanded from its patterns under the project folder, sorted.
    pub fn files_of(&self, project: &Path, source: &SourceOptions) -> Result<Vec<PathBuf>, Error> {
        let mut out = Vec::new();
        for pattern in &source.files {
            let full = project.join(pattern);
            let paths = glob::glob(&full.to_string_lossy()).map_err(|e| Error::Config {
                path: project.join(CONFIG_FILE),
                message: format!(
                    "source '{}': bad file pattern '{pattern}': {e}",
                    source.name
                ),
            })?;
            for p in paths.flatten() {
                if p.is_file() {
                    out.push(p);
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_line_and_column() {
        let err = ProjectConfig::parse(
            "sources:\n  - name: a\n    record: nonsense\n",
            Path::new("p/ledgerlens.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("p/ledgerlens.yaml: line 3, column"),
            "{err}"
        );
        assert!(err.contains("nonsense"), "{err}");
        let err = ProjectConfig::parse("databse: x\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `databse`"), "{err}");
        let err = ProjectConfig::parse(
            "sources:\n  - { name: a, record: customer, system: \"x:a\" }\n",
            Path::new("c.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("code system 'x:a' must be"), "{err}");
    }

    #[test]
    fn matches_files_to_sources() {
        let c = ProjectConfig::parse(
            "sources:\n  - { name: v, files: \"data/凭证*.csv\", record: voucher-line }\n  - { name: crm, files: [data/crm.csv], record: customer }\n",
            Path::new("x"),
        )
        .unwrap();
        let project = Path::new("/p");
        assert_eq!(
            c.source_for(project, Path::new("/p/data/凭证_2024.csv"))
                .unwrap()
                .name,
            "v"
        );
        assert_eq!(
            c.source_for(project, Path::new("data/crm.csv"))
                .unwrap()
                .name,
            "crm"
        );
        assert!(c
            .source_for(project, Path::new("/p/data/other.csv"))
            .is_err());
        assert!(c
            .source("nope")
            .unwrap_err()
            .to_string()
            .contains("sources: v, crm"));
    }

    #[test]
    fn command_options_are_checked() {
        let path = Path::new("ledgerlens.yaml");
        let both = "sources:\n  - name: feed\n    adapter: exec\n    record: customer\n    files: a.jsonl\n    command: [sh, feed.sh]\n";
        let err = ProjectConfig::parse(both, path).unwrap_err().to_string();
        assert_eq!(
            err,
            "ledgerlens.yaml: source 'feed': a source reads `files` or runs a `command`, not both (make it two sources)"
        );
        let stray =
            "sources:\n  - name: crm\n    record: customer\n    files: a.csv\n    timeout: 5\n";
        let err = ProjectConfig::parse(stray, path).unwrap_err().to_string();
        assert!(
            err.contains("`timeout` and `env` go with `command"),
            "{err}"
        );
        let good = "sources:\n  - name: feed\n    adapter: exec\n    record: customer\n    command: [sh, feed.sh]\n    timeout: 30\n    env: { REGION: east }\n";
        let config = ProjectConfig::parse(good, path).unwrap();
        assert_eq!(config.sources[0].command, ["sh", "feed.sh"]);
        assert_eq!(config.sources[0].timeout, Some(30));
    }
}
