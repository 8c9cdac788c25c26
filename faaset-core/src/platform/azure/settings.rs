//! The `azure` configuration as Azure resources: names derived from the function and the
//! subscription, Flex Consumption's rules (three instance sizes, 230 s for HTTP calls), and the
//! ARM bodies FaaSET sends (resource group, storage account, blob container, FC1 plan, function
//! app, app settings). The bodies are those Microsoft's SDKs (azure-mgmt-resource 26,
//! azure-mgmt-storage 25, azure-mgmt-web 11) send for the same operations; the contract test
//! compares them (docs/azure.md).

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::platform::Env;

/// Flex Consumption's instance sizes (MB): 512 (about 0.25 core), 2048 (1), 4096 (2).
pub const MEMORY_SIZES: &[u64] = &[512, 2048, 4096];
/// The longest an HTTP-triggered call may take on Azure: the front end's idle timeout.
pub const MAX_HTTP_TIMEOUT: u64 = 230;
/// Flex Consumption's bounds of `maximumInstanceCount`.
pub const MAX_INSTANCES: (u64, u64) = (40, 1000);
/// The longest function app name Azure takes.
pub const MAX_APP_NAME: usize = 60;
/// The runtime of a custom handler on Flex Consumption (`functionAppConfig.runtime`). The
/// version is the one Azure lists for `custom`; not confirmed against a live region.
pub const RUNTIME: (&str, &str) = ("custom", "1.0");
/// The app setting that holds the deployment container's connection string.
pub const DEPLOYMENT_SETTING: &str = "DEPLOYMENT_STORAGE_CONNECTION_STRING";
/// App settings FaaSET manages besides the config's `env`.
pub const STORAGE_SETTINGS: &[&str] = &["AzureWebJobsStorage", DEPLOYMENT_SETTING];
/// The host.json value `functionTimeout`, set as an app setting so that a timeout change is a
/// configuration change (no new package).
pub const TIMEOUT_SETTING: &str = "AzureFunctionsJobHost__functionTimeout";
/// The SDKs' subscription variable, used when the config names none.
pub const SUBSCRIPTION_VAR: &str = "AZURE_SUBSCRIPTION_ID";

/// The function app's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub subscription: String,
    /// Where `subscription` came from (for messages).
    pub subscription_source: &'static str,
    pub resource_group: String,
    /// `None`: the resource group's location (looked up at publish).
    pub location: Option<String>,
    pub memory: u64,
    pub concurrency: u64,
    pub max_instances: u64,
    pub timeout: u64,
    pub env: Map<String, Value>,
    pub storage_account: String,
}

impl Settings {
    /// The settings of a configuration `config::check` accepted, with Flex Consumption's rules;
    /// the subscription from the config, else `AZURE_SUBSCRIPTION_ID`.
    pub fn from_config(config: &Config, env: &dyn Env) -> Result<Settings> {
        let text = |key: &str| {
            config
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let number = |key: &str| config.get(key).and_then(Value::as_u64);
        let (subscription, subscription_source) = match text("subscription") {
            Some(s) => (s, "config key \"subscription\""),
            None => match env.var(SUBSCRIPTION_VAR) {
                Some(s) => (s, "$AZURE_SUBSCRIPTION_ID"),
                None => return Err(Error::Config(
                    "config key \"subscription\" is required for platform azure: set it to your \
                         Azure subscription id (like {\"subscription\": \
                         \"00000000-0000-0000-0000-000000000000\"}) or set AZURE_SUBSCRIPTION_ID"
                        .into(),
                )),
            },
        };
        if !is_guid(&subscription) {
            return Err(Error::Config(format!(
                "{subscription_source} is {subscription:?}, which is not an Azure subscription id \
                 (a GUID like 00000000-0000-0000-0000-000000000000): use the subscription's id, \
                 not its name"
            )));
        }
        let resource_group = text("resource_group").unwrap_or_else(|| "faaset".into());
        if !is_resource_group(&resource_group) {
            return Err(Error::Config(format!(
                "config key \"resource_group\" is {resource_group:?}, which Azure does not take \
                 as a resource group name (1–90 letters, digits, `-`, `_`, `.`, `(`, `)`, not \
                 ending with `.`)"
            )));
        }
        let location = match text("location") {
            None => None,
            Some(l) => {
                // ARM takes both "eastus" and "East US"; FaaSET sends the short form.
                let short: String = l
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_ascii_lowercase();
                if short.is_empty() || !short.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(Error::Config(format!(
                        "config key \"location\" is {l:?}, which is not an Azure region name \
                         (like \"eastus\" or \"westeurope\")"
                    )));
                }
                Some(short)
            }
        };
        let memory = number("memory").unwrap_or(2048);
        if !MEMORY_SIZES.contains(&memory) {
            return Err(Error::Config(format!(
                "memory {memory} MB is not a Flex Consumption instance size: use 512, 2048 or 4096"
            )));
        }
        let timeout = number("timeout").unwrap_or(MAX_HTTP_TIMEOUT);
        if !(1..=MAX_HTTP_TIMEOUT).contains(&timeout) {
            return Err(Error::Config(format!(
                "timeout {timeout} s is more than an HTTP-triggered call may take on Azure \
                 ({MAX_HTTP_TIMEOUT} s, the front end's idle timeout): set \"timeout\" to 1–230"
            )));
        }
        let storage_account = match text("storage_account") {
            Some(name) => {
                if !is_storage_account(&name) {
                    return Err(Error::Config(format!(
                        "config key \"storage_account\" is {name:?}, which Azure does not take as \
                         a storage account name (3–24 lowercase letters and digits)"
                    )));
                }
                name
            }
            None => format!(
                "faaset{}",
                &scope_hash(&subscription, &resource_group)[..12]
            ),
        };
        Ok(Settings {
            subscription,
            subscription_source,
            resource_group,
            location,
            memory,
            concurrency: number("concurrency").unwrap_or(1),
            max_instances: number("max_instances").unwrap_or(100),
            timeout,
            env: config
                .get("env")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            storage_account,
        })
    }

    /// The function app of `function`: `_` → `-`, then 8 hex digits of the subscription and
    /// resource group (app names are global: `<app>.azurewebsites.net`, so two users' `hello`
    /// must not collide; the same workspace settings always give the same name).
    pub fn app_name(&self, function: &str) -> Result<String> {
        let base = function.replace('_', "-");
        let name = format!(
            "{base}-{}",
            &scope_hash(&self.subscription, &self.resource_group)[..8]
        );
        if name.len() > MAX_APP_NAME {
            return Err(Error::Config(format!(
                "function name {function} is too long for Azure: its function app {name} would be \
                 {} characters, and Azure takes at most {MAX_APP_NAME}: choose a name of at most \
                 {} characters for the azure platform",
                name.len(),
                MAX_APP_NAME - 9
            )));
        }
        if base.ends_with('-') {
            return Err(Error::Config(format!(
                "function name {function} ends with `_`, which its Azure function app name \
                 cannot: choose a name that ends with a letter or digit"
            )));
        }
        Ok(name)
    }

    /// The blob container OneDeploy puts the app's package in (one per app).
    pub fn container_name(app: &str) -> String {
        let mut name = format!("p-{app}");
        name.truncate(63);
        name.trim_end_matches('-').to_string()
    }

    /// `/subscriptions/{s}/resourcegroups/{rg}`, as azure-mgmt-resource spells it.
    pub fn resource_group_path(&self) -> String {
        format!(
            "/subscriptions/{}/resourcegroups/{}",
            self.subscription, self.resource_group
        )
    }

    /// `/subscriptions/{s}/resourceGroups/{rg}/providers/{provider}/{rest}`.
    pub fn resource_path(&self, provider: &str, rest: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{provider}/{rest}",
            self.subscription, self.resource_group
        )
    }

    pub fn storage_path(&self) -> String {
        self.resource_path(
            "Microsoft.Storage",
            &format!("storageAccounts/{}", self.storage_account),
        )
    }

    pub fn container_path(&self, app: &str) -> String {
        format!(
            "{}/blobServices/default/containers/{}",
            self.storage_path(),
            Self::container_name(app)
        )
    }

    /// One FC1 plan per app (Flex Consumption allows one app per plan), named as the app.
    pub fn plan_path(&self, app: &str) -> String {
        self.resource_path("Microsoft.Web", &format!("serverfarms/{app}"))
    }

    pub fn site_path(&self, app: &str) -> String {
        self.resource_path("Microsoft.Web", &format!("sites/{app}"))
    }

    /// The tags of every resource FaaSET creates.
    fn tags() -> Value {
        json!({"managed-by": "faaset"})
    }

    pub fn resource_group(location: &str) -> Value {
        json!({"location": location, "tags": Self::tags()})
    }

    /// A general-purpose v2 account, locally redundant, TLS 1.2, no public blobs.
    pub fn storage_account(location: &str) -> Value {
        json!({
            "sku": {"name": "Standard_LRS"},
            "kind": "StorageV2",
            "location": location,
            "tags": Self::tags(),
            "properties": {"allowBlobPublicAccess": false, "minimumTlsVersion": "TLS1_2"},
        })
    }

    pub fn plan(location: &str) -> Value {
        json!({
            "location": location,
            "kind": "functionapp",
            "sku": {"name": "FC1", "tier": "FlexConsumption"},
            "tags": Self::tags(),
            // Linux.
            "properties": {"reserved": true},
        })
    }

    /// `functionAppConfig.scaleAndConcurrency`: what a memory, concurrency or instance-count
    /// change alters.
    pub fn scale_and_concurrency(&self) -> Value {
        json!({
            "instanceMemoryMB": self.memory,
            "maximumInstanceCount": self.max_instances,
            // Sent even when 1: Flex's default depends on the memory size.
            "triggers": {"http": {"perInstanceConcurrency": self.concurrency}},
        })
    }

    /// The function app: custom handler runtime, the package container, scale and concurrency,
    /// and its app settings (`settings`, in order).
    pub fn site(&self, app: &str, location: &str, settings: &[(String, String)]) -> Value {
        let container = format!(
            "https://{}.blob.core.windows.net/{}",
            self.storage_account,
            Self::container_name(app)
        );
        let app_settings: Vec<Value> = settings
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        json!({
            "location": location,
            "kind": "functionapp,linux",
            "tags": Self::tags(),
            "properties": {
                "serverFarmId": self.plan_path(app),
                "httpsOnly": true,
                "functionAppConfig": {
                    "runtime": {"name": RUNTIME.0, "version": RUNTIME.1},
                    "scaleAndConcurrency": self.scale_and_concurrency(),
                    "deployment": {"storage": {
                        "type": "blobContainer",
                        "value": container,
                        "authentication": {
                            "type": "StorageAccountConnectionString",
                            "storageAccountConnectionStringName": DEPLOYMENT_SETTING,
                        },
                    }},
                },
                "siteConfig": {"appSettings": app_settings},
            },
        })
    }

    /// The app settings: the storage connection string (host storage and deployment
    /// container), `FAASET_MEMORY_MB`, `FAASET_TIMEOUT_S`, `FAASET_REGION` (Flex tells the
    /// process none of them reliably; SAAF reports them), the function timeout, then `env`.
    /// No `FUNCTIONS_WORKER_RUNTIME` or `FUNCTIONS_EXTENSION_VERSION`: Flex refuses them.
    pub fn app_settings(&self, storage: &str, location: &str) -> Vec<(String, String)> {
        let mut settings: Vec<(String, String)> = STORAGE_SETTINGS
            .iter()
            .map(|name| (name.to_string(), storage.to_string()))
            .collect();
        settings.extend([
            ("FAASET_MEMORY_MB".into(), self.memory.to_string()),
            ("FAASET_TIMEOUT_S".into(), self.timeout.to_string()),
            ("FAASET_REGION".into(), location.to_string()),
            (TIMEOUT_SETTING.into(), timespan(self.timeout)),
        ]);
        for (key, value) in &self.env {
            let value = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            settings.retain(|(name, _)| name != key);
            settings.push((key.clone(), value));
        }
        settings
    }
}

/// A storage account's connection string, as the portal and the SDKs write it.
pub fn connection_string(account: &str, key: &str) -> String {
    format!(
        "DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};\
         EndpointSuffix=core.windows.net"
    )
}

/// `hh:mm:ss`, host.json's time span.
pub fn timespan(seconds: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// sha256 of `subscription/resource_group`, hex: the suffix of global names.
fn scope_hash(subscription: &str, resource_group: &str) -> String {
    let digest = Sha256::digest(
        format!(
            "{}/{}",
            subscription.to_ascii_lowercase(),
            resource_group.to_ascii_lowercase()
        )
        .as_bytes(),
    );
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `8-4-4-4-12` hex digits.
pub fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_resource_group(name: &str) -> bool {
    (1..=90).contains(&name.len())
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
}

fn is_storage_account(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Vars(HashMap<&'static str, String>);
    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    const SUB: &str = "0f3e5b7c-1a2b-4c3d-9e8f-0123456789ab";

    fn settings(v: Value) -> Result<Settings> {
        let mut config = json!({"subscription": SUB}).as_object().unwrap().clone();
        config.extend(v.as_object().unwrap().clone());
        Settings::from_config(&config, &Vars(HashMap::new()))
    }

    #[test]
    fn defaults_and_names() {
        let s = settings(json!({})).unwrap();
        assert_eq!(
            (s.memory, s.concurrency, s.max_instances, s.timeout),
            (2048, 1, 100, 230)
        );
        assert_eq!(s.resource_group, "faaset");
        assert_eq!(s.location, None);
        assert!(s.storage_account.starts_with("faaset") && s.storage_account.len() == 18);
        let app = s.app_name("hello_world").unwrap();
        assert!(app.starts_with("hello-world-") && app.len() == 20, "{app}");
        assert_eq!(app, s.app_name("hello_world").unwrap(), "stable");
        let other = settings(json!({"resource_group": "other"})).unwrap();
        assert_ne!(other.app_name("hello_world").unwrap(), app);
        assert!(s.app_name(&"a".repeat(52)).is_err());
        assert!(s.app_name(&"a".repeat(51)).is_ok());
        assert!(s.app_name("hello_").is_err());
        assert_eq!(Settings::container_name("app-1"), "p-app-1");
        assert_eq!(
            settings(json!({"location": "East US"})).unwrap().location,
            Some("eastus".into())
        );
    }

    #[test]
    fn flex_rules_are_one_clear_line() {
        let m = |v: Value| settings(v).unwrap_err().to_string();
        assert_eq!(
            m(json!({"memory": 1024})),
            "memory 1024 MB is not a Flex Consumption instance size: use 512, 2048 or 4096"
        );
        assert!(m(json!({"timeout": 231})).starts_with("timeout 231 s is more than"));
        assert!(m(json!({"storage_account": "My_Account"})).contains("3–24 lowercase"));
        assert!(
            m(json!({"subscription": "my subscription"})).contains("not an Azure subscription id")
        );
        let none = Settings::from_config(&Config::new(), &Vars(HashMap::new()))
            .unwrap_err()
            .to_string();
        assert!(
            none.starts_with("config key \"subscription\" is required for platform azure")
                && none.contains("AZURE_SUBSCRIPTION_ID"),
            "{none}"
        );
        let from_env = Settings::from_config(
            &Config::new(),
            &Vars(HashMap::from([(SUBSCRIPTION_VAR, SUB.to_string())])),
        )
        .unwrap();
        assert_eq!(from_env.subscription, SUB);
    }

    #[test]
    fn the_bodies() {
        let s = settings(
            json!({"memory": 4096, "concurrency": 2, "max_instances": 40,
                                "timeout": 90, "env": {"A": "1", "FAASET_REGION": "x"}}),
        )
        .unwrap();
        let app = s.app_name("f").unwrap();
        let list = s.app_settings("conn", "eastus");
        let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "AzureWebJobsStorage",
                DEPLOYMENT_SETTING,
                "FAASET_MEMORY_MB",
                "FAASET_TIMEOUT_S",
                TIMEOUT_SETTING,
                "A",
                "FAASET_REGION"
            ]
        );
        assert_eq!(list[4].1, "00:01:30");
        let site = s.site(&app, "eastus", &list);
        let config = &site["properties"]["functionAppConfig"];
        assert_eq!(
            config["scaleAndConcurrency"],
            json!({"instanceMemoryMB": 4096, "maximumInstanceCount": 40,
                   "triggers": {"http": {"perInstanceConcurrency": 2}}})
        );
        assert_eq!(
            config["runtime"],
            json!({"name": "custom", "version": "1.0"})
        );
        assert_eq!(
            site["properties"]["serverFarmId"],
            format!("/subscriptions/{SUB}/resourceGroups/faaset/providers/Microsoft.Web/serverfarms/{app}")
        );
        assert_eq!(
            site["properties"]["siteConfig"]["appSettings"][0]["value"],
            "conn"
        );
        assert_eq!(timespan(230), "00:03:50");
        assert_eq!(
            connection_string("sa", "k=="),
            "DefaultEndpointsProtocol=https;AccountName=sa;AccountKey=k==;EndpointSuffix=core.windows.net"
        );
    }
}
