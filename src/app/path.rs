//! A serde deserializer over path parameters, for the `Path<T>` extractor.
//!
//! `T` may be one value (`Path<u64>` for `/accounts/{id}`), a tuple (`Path<(String, u32)>`, in
//! pattern order) or a struct / map (by parameter name). Values are strings that were already
//! percent-decoded; numbers and booleans are parsed here. Nothing else happens in this module.

use super::context::PathParams;
use serde::de::value::Error;
use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

/// Deserialises the parameters into `T`; the error text says which parameter failed and why.
pub(crate) fn from_params<T: de::DeserializeOwned>(params: &PathParams) -> Result<T, String> {
    T::deserialize(ParamsDeserializer { params }).map_err(|error| error.to_string())
}

struct ParamsDeserializer<'a> {
    params: &'a PathParams,
}

impl ParamsDeserializer<'_> {
    fn single(&self) -> Result<ValueDeserializer<'_>, Error> {
        match self.params.as_slice() {
            [(name, value)] => Ok(ValueDeserializer { name, value }),
            params => Err(de::Error::custom(format!(
                "expected 1 path parameter, the route has {}",
                params.len()
            ))),
        }
    }
}

macro_rules! forward_to_single {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.single()?.$method(visitor)
        })*
    };
}

impl<'de> Deserializer<'de> for ParamsDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.params.len() == 1 {
            self.single()?.deserialize_any(visitor)
        } else {
            self.deserialize_map(visitor)
        }
    }

    forward_to_single! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit
        deserialize_identifier deserialize_ignored_any deserialize_i128 deserialize_u128
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(ParamsSeq {
            params: self.params.iter(),
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        if self.params.len() != len {
            return Err(de::Error::custom(format!(
                "expected {len} path parameters, the route has {}",
                self.params.len()
            )));
        }
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(ParamsMap {
            params: self.params.iter(),
            value: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }
}

type ParamIter<'a> = std::slice::Iter<'a, (std::sync::Arc<str>, String)>;

struct ParamsSeq<'a> {
    params: ParamIter<'a>,
}

impl<'de> SeqAccess<'de> for ParamsSeq<'_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.params.next() {
            Some((name, value)) => seed
                .deserialize(ValueDeserializer { name, value })
                .map(Some),
            None => Ok(None),
        }
    }
}

struct ParamsMap<'a> {
    params: ParamIter<'a>,
    value: Option<(&'a str, &'a str)>,
}

impl<'de> MapAccess<'de> for ParamsMap<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.params.next() {
            Some((name, value)) => {
                self.value = Some((name, value));
                let key: de::value::StrDeserializer<'_, Error> = name.as_ref().into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some((name, value)) => seed.deserialize(ValueDeserializer { name, value }),
            None => Err(de::Error::custom("path parameter value without a key")),
        }
    }
}

/// One parameter's string value.
struct ValueDeserializer<'a> {
    name: &'a str,
    value: &'a str,
}

impl ValueDeserializer<'_> {
    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, Error> {
        self.value.parse().map_err(|_| {
            de::Error::custom(format!(
                "parameter `{}`: {:?} is not a valid {what}",
                self.name, self.value
            ))
        })
    }
}

macro_rules! parse_primitive {
    ($($method:ident => $visit:ident : $ty:ty,)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit(self.parse::<$ty>(stringify!($ty))?)
        })*
    };
}

impl<'de> Deserializer<'de> for ValueDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.value)
    }

    parse_primitive! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
        deserialize_char => visit_char: char,
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.value)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_string(self.value.to_owned())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let unit: de::value::StrDeserializer<'_, Error> = self.value.into_deserializer();
        visitor.visit_enum(unit)
    }

    serde::forward_to_deserialize_any! {
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn params(pairs: &[(&str, &str)]) -> PathParams {
        pairs
            .iter()
            .map(|(k, v)| (Arc::from(*k), v.to_string()))
            .collect()
    }

    #[test]
    fn single_value_parses_numbers() {
        let id: u64 = from_params(&params(&[("id", "42")])).unwrap();
        assert_eq!(id, 42);
        let error = from_params::<u64>(&params(&[("id", "x")])).unwrap_err();
        assert!(error.contains("`id`"), "{error}");
    }

    #[test]
    fn tuples_follow_pattern_order() {
        let (name, year): (String, u32) =
            from_params(&params(&[("name", "acme"), ("year", "2026")])).unwrap();
        assert_eq!((name.as_str(), year), ("acme", 2026));
        assert!(from_params::<(String, u32, u8)>(&params(&[("a", "1"), ("b", "2")])).is_err());
    }

    #[test]
    fn structs_match_by_name() {
        #[derive(serde::Deserialize)]
        struct Ids {
            tenant: String,
            id: i64,
        }
        let ids: Ids = from_params(&params(&[("id", "-7"), ("tenant", "t1")])).unwrap();
        assert_eq!((ids.tenant.as_str(), ids.id), ("t1", -7));
    }

    #[test]
    fn enums_take_unit_variants() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        #[serde(rename_all = "lowercase")]
        enum Period {
            Month,
            Year,
        }
        let period: Period = from_params(&params(&[("period", "year")])).unwrap();
        assert_eq!(period, Period::Year);
        assert!(from_params::<Period>(&params(&[("period", "week")])).is_err());
    }
}
