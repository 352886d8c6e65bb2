//! Plan tiers: rate limits and monthly hard caps (API.md §3), overridable with `PLANS_FILE`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(skip_deserializing, default)]
    pub name: String,
    pub general_rpm: u32,
    pub search_rpm: u32,
    #[serde(default)]
    pub max_verticals: Option<u64>,
    #[serde(default)]
    pub max_entities: Option<u64>,
    #[serde(default)]
    pub max_searches_per_month: Option<u64>,
    #[serde(default)]
    pub max_ingested_records_per_month: Option<u64>,
}

impl Plan {
    fn unlimited(name: &str, general_rpm: u32, search_rpm: u32) -> Self {
        Plan {
            name: name.into(),
            general_rpm,
            search_rpm,
            max_verticals: None,
            max_entities: None,
            max_searches_per_month: None,
            max_ingested_records_per_month: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Plans {
    by_name: HashMap<String, Arc<Plan>>,
}

impl Plans {
    pub fn defaults() -> Self {
        let free = Plan {
            max_verticals: Some(1),
            max_entities: Some(1_000),
            max_searches_per_month: Some(1_000),
            max_ingested_records_per_month: Some(500),
            ..Plan::unlimited("free", 60, 30)
        };
        let plans = [
            free,
            Plan::unlimited("starter", 300, 150),
            Plan::unlimited("pro", 1_000, 500),
            Plan::unlimited("enterprise", 5_000, 2_500),
        ];
        Plans {
            by_name: plans
                .into_iter()
                .map(|p| (p.name.clone(), Arc::new(p)))
                .collect(),
        }
    }

    /// Defaults, with the plans named in the file replacing or adding to them.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        let mut plans = Self::defaults();
        let Some(path) = file else { return Ok(plans) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read PLANS_FILE {}: {e}", path.display()))?;
        let overrides: HashMap<String, Plan> = serde_json::from_str(&text)
            .map_err(|e| format!("PLANS_FILE {} is not valid: {e}", path.display()))?;
        for (name, mut plan) in overrides {
            if plan.general_rpm == 0 || plan.search_rpm == 0 {
                return Err(format!("plan '{name}': rpm values must be at least 1"));
            }
            plan.name = name.clone();
            plans.by_name.insert(name, Arc::new(plan));
        }
        Ok(plans)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Plan>> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table() {
        let p = Plans::defaults();
        let free = p.get("free").unwrap();
        assert_eq!((free.general_rpm, free.search_rpm), (60, 30));
        assert_eq!(free.max_entities, Some(1_000));
        assert_eq!(p.get("enterprise").unwrap().general_rpm, 5_000);
        assert_eq!(p.get("pro").unwrap().max_entities, None);
    }

    #[test]
    fn file_overrides_and_adds() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("plans.json");
        std::fs::write(
            &f,
            r#"{"free": {"general_rpm": 10, "search_rpm": 5}, "huge": {"general_rpm": 1000000, "search_rpm": 1000000, "max_entities": 5}}"#,
        )
        .unwrap();
        let p = Plans::load(Some(&f)).unwrap();
        let free = p.get("free").unwrap();
        assert_eq!(free.general_rpm, 10);
        assert_eq!(free.max_entities, None, "a missing cap means unlimited");
        assert_eq!(p.get("huge").unwrap().max_entities, Some(5));
        assert_eq!(p.get("pro").unwrap().general_rpm, 1_000);
    }

    #[test]
    fn bad_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("plans.json");
        std::fs::write(&f, r#"{"free": {"general_rpm": 0, "search_rpm": 5}}"#).unwrap();
        assert!(Plans::load(Some(&f)).is_err());
        std::fs::write(
            &f,
            r#"{"free": {"general_rpm": 1, "search_rpm": 5, "bogus": 1}}"#,
        )
        .unwrap();
        assert!(Plans::load(Some(&f)).is_err());
    }
}
