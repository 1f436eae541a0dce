//! Devices and precisions in a config by their names. Work runs on the backend a device names
//! through the workspace's one dispatch, [`spectral_train::devices::on_devices`] on a
//! [`DeviceSet`](spectral_train::devices::DeviceSet) (`DeviceSet::one(kind)?` for one device).

use spectral::DeviceKind;

/// A device or a precision in a config as its name (`cpu`, `cuda:0`, `bf16`: its `Display`
/// and `FromStr`), for `#[serde(with = ...)]`.
pub mod by_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err: Display>,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `cpu`: the device of a config that names none.
pub fn cpu() -> DeviceKind {
    DeviceKind::Cpu
}
