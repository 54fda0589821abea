//! Tensors as the Open Inference Protocol carries them: a name, a shape, a datatype and the
//! elements in row-major order. `Data` holds the elements of the datatypes this server runs
//! (INT32, INT64, FP32, FP64 and BYTES); `Datatype::parse` names the protocol's other
//! datatypes so a request using one gets a clear refusal. Also here: slicing a tensor into
//! rows along its first (batch) dimension and joining rows back, and the little-endian byte
//! layout of Triton's binary tensor extension. Pure: no I/O, no JSON (that is `api/`).
//! Tests at the bottom.

use std::fmt;

/// The datatypes this server accepts and returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Datatype {
    #[serde(rename = "INT32")]
    Int32,
    #[serde(rename = "INT64")]
    Int64,
    #[serde(rename = "FP32")]
    Fp32,
    #[serde(rename = "FP64")]
    Fp64,
    #[serde(rename = "BYTES")]
    Bytes,
}

/// Datatypes of the protocol this server does not run.
const KNOWN_UNSUPPORTED: [&str; 9] = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "FP16", "BF16",
];

/// Why a datatype name was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatatypeError {
    /// A protocol datatype this server does not run.
    Unsupported(String),
    /// Not a protocol datatype at all.
    Unknown(String),
}

impl fmt::Display for DatatypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatatypeError::Unsupported(name) => write!(
                f,
                "datatype {name} is not supported (supported: INT32, INT64, FP32, FP64, BYTES)"
            ),
            DatatypeError::Unknown(name) => write!(f, "unknown datatype {name:?}"),
        }
    }
}

impl Datatype {
    pub fn parse(name: &str) -> Result<Datatype, DatatypeError> {
        match name {
            "INT32" => Ok(Datatype::Int32),
            "INT64" => Ok(Datatype::Int64),
            "FP32" => Ok(Datatype::Fp32),
            "FP64" => Ok(Datatype::Fp64),
            "BYTES" => Ok(Datatype::Bytes),
            other if KNOWN_UNSUPPORTED.contains(&other) => {
                Err(DatatypeError::Unsupported(other.to_owned()))
            }
            other => Err(DatatypeError::Unknown(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::Int32 => "INT32",
            Datatype::Int64 => "INT64",
            Datatype::Fp32 => "FP32",
            Datatype::Fp64 => "FP64",
            Datatype::Bytes => "BYTES",
        }
    }

    /// Bytes per element in the binary layout; `None` for BYTES (length-prefixed).
    pub fn element_bytes(self) -> Option<usize> {
        match self {
            Datatype::Int32 | Datatype::Fp32 => Some(4),
            Datatype::Int64 | Datatype::Fp64 => Some(8),
            Datatype::Bytes => None,
        }
    }
}

impl fmt::Display for Datatype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The elements of a tensor, row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<Vec<u8>>),
}

impl Data {
    pub fn empty(datatype: Datatype) -> Data {
        match datatype {
            Datatype::Int32 => Data::I32(Vec::new()),
            Datatype::Int64 => Data::I64(Vec::new()),
            Datatype::Fp32 => Data::F32(Vec::new()),
            Datatype::Fp64 => Data::F64(Vec::new()),
            Datatype::Bytes => Data::Bytes(Vec::new()),
        }
    }

    pub fn datatype(&self) -> Datatype {
        match self {
            Data::I32(_) => Datatype::Int32,
            Data::I64(_) => Datatype::Int64,
            Data::F32(_) => Datatype::Fp32,
            Data::F64(_) => Datatype::Fp64,
            Data::Bytes(_) => Datatype::Bytes,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Data::I32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
            Data::Bytes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements `start..start + count` (the caller keeps them in range).
    pub fn slice(&self, start: usize, count: usize) -> Data {
        let range = start..start + count;
        match self {
            Data::I32(v) => Data::I32(v[range].to_vec()),
            Data::I64(v) => Data::I64(v[range].to_vec()),
            Data::F32(v) => Data::F32(v[range].to_vec()),
            Data::F64(v) => Data::F64(v[range].to_vec()),
            Data::Bytes(v) => Data::Bytes(v[range].to_vec()),
        }
    }

    /// Appends `other`'s elements; `false` (and nothing appended) if the datatypes differ.
    pub fn extend_from(&mut self, other: &Data) -> bool {
        match (self, other) {
            (Data::I32(a), Data::I32(b)) => a.extend_from_slice(b),
            (Data::I64(a), Data::I64(b)) => a.extend_from_slice(b),
            (Data::F32(a), Data::F32(b)) => a.extend_from_slice(b),
            (Data::F64(a), Data::F64(b)) => a.extend_from_slice(b),
            (Data::Bytes(a), Data::Bytes(b)) => a.extend_from_slice(b),
            _ => return false,
        }
        true
    }

    /// The binary layout of Triton's extension: little-endian elements; BYTES elements each
    /// preceded by their length as a little-endian u32.
    pub fn write_le_bytes(&self, out: &mut Vec<u8>) {
        match self {
            Data::I32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Data::I64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Data::F32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Data::F64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Data::Bytes(v) => {
                for element in v {
                    // Elements are bounded far below 4 GiB by the request body limit.
                    let length = u32::try_from(element.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&length.to_le_bytes());
                    out.extend_from_slice(element);
                }
            }
        }
    }

    /// Reads the binary layout of `datatype` (see `write_le_bytes`).
    pub fn from_le_bytes(datatype: Datatype, bytes: &[u8]) -> Result<Data, String> {
        fn fixed<const N: usize, T>(
            bytes: &[u8],
            read: fn([u8; N]) -> T,
        ) -> Result<Vec<T>, String> {
            if !bytes.len().is_multiple_of(N) {
                return Err(format!(
                    "binary data of {} bytes is not a whole number of {N}-byte elements",
                    bytes.len()
                ));
            }
            Ok(bytes
                .chunks_exact(N)
                .map(|chunk| {
                    let mut array = [0u8; N];
                    array.copy_from_slice(chunk);
                    read(array)
                })
                .collect())
        }
        Ok(match datatype {
            Datatype::Int32 => Data::I32(fixed(bytes, i32::from_le_bytes)?),
            Datatype::Int64 => Data::I64(fixed(bytes, i64::from_le_bytes)?),
            Datatype::Fp32 => Data::F32(fixed(bytes, f32::from_le_bytes)?),
            Datatype::Fp64 => Data::F64(fixed(bytes, f64::from_le_bytes)?),
            Datatype::Bytes => Data::Bytes(length_prefixed(bytes)?),
        })
    }
}

fn length_prefixed(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut elements = Vec::new();
    while !bytes.is_empty() {
        let Some((head, rest)) = bytes.split_first_chunk::<4>() else {
            return Err("BYTES binary data ends inside an element's length".to_owned());
        };
        let length = u32::from_le_bytes(*head) as usize;
        if rest.len() < length {
            return Err("BYTES binary data ends inside an element".to_owned());
        }
        elements.push(rest[..length].to_vec());
        bytes = &rest[length..];
    }
    Ok(elements)
}

/// A named tensor. Invariant (checked by `Tensor::new`): the product of `shape` is
/// `data.len()`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Data,
}

impl Tensor {
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: Data) -> Result<Tensor, String> {
        let name = name.into();
        let elements = element_count(&shape)
            .ok_or_else(|| format!("tensor {name}: shape {shape:?} is too large"))?;
        if elements != data.len() {
            return Err(format!(
                "tensor {name}: shape {shape:?} holds {elements} elements but {} were given",
                data.len()
            ));
        }
        Ok(Tensor { name, shape, data })
    }

    pub fn datatype(&self) -> Datatype {
        self.data.datatype()
    }

    /// The first dimension (rows); 0 for a scalar.
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    /// Elements in one row (the product of the shape after the first dimension).
    pub fn row_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }

    /// Row `index` as its own data (the caller keeps `index < rows()`).
    pub fn row(&self, index: usize) -> Data {
        let row_len = self.row_len();
        self.data.slice(index * row_len, row_len)
    }

    /// Joins rows (each `row_shape` elements) into a tensor of shape `[rows, row_shape...]`.
    pub fn from_rows(
        name: impl Into<String>,
        datatype: Datatype,
        row_shape: &[usize],
        rows: &[&Data],
    ) -> Result<Tensor, String> {
        let mut data = Data::empty(datatype);
        for row in rows {
            if !data.extend_from(row) {
                return Err("rows of different datatypes".to_owned());
            }
        }
        let mut shape = Vec::with_capacity(row_shape.len() + 1);
        shape.push(rows.len());
        shape.extend_from_slice(row_shape);
        Tensor::new(name, shape, data)
    }
}

/// The product of a shape, `None` on overflow.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &dim| acc.checked_mul(dim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datatypes_round_trip_and_refusals_say_why() {
        for name in ["INT32", "INT64", "FP32", "FP64", "BYTES"] {
            assert_eq!(Datatype::parse(name).map(Datatype::as_str), Ok(name));
        }
        let fp16 = Datatype::parse("FP16").unwrap_err();
        assert!(fp16.to_string().contains("not supported"), "{fp16}");
        let junk = Datatype::parse("float").unwrap_err();
        assert_eq!(junk, DatatypeError::Unknown("float".to_owned()));
    }

    #[test]
    fn shape_must_match_the_element_count() {
        assert!(Tensor::new("x", vec![2, 3], Data::F32(vec![0.0; 6])).is_ok());
        let error = Tensor::new("x", vec![2, 3], Data::F32(vec![0.0; 5])).unwrap_err();
        assert!(error.contains("6 elements but 5"), "{error}");
        let huge = Tensor::new("x", vec![usize::MAX, 2], Data::F32(vec![])).unwrap_err();
        assert!(huge.contains("too large"), "{huge}");
    }

    #[test]
    fn rows_split_and_join_back() {
        let tensor = Tensor::new("x", vec![3, 2], Data::I64(vec![1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(tensor.row(1), Data::I64(vec![3, 4]));
        let rows = [tensor.row(2), tensor.row(0)];
        let joined = Tensor::from_rows("y", Datatype::Int64, &[2], &[&rows[0], &rows[1]]).unwrap();
        assert_eq!(joined.shape, vec![2, 2]);
        assert_eq!(joined.data, Data::I64(vec![5, 6, 1, 2]));
        let mixed = Tensor::from_rows("z", Datatype::Int64, &[2], &[&Data::F32(vec![1.0, 2.0])]);
        assert!(mixed.is_err());
    }

    #[test]
    fn binary_layout_round_trips_every_datatype() {
        let cases = [
            Data::I32(vec![-1, 7]),
            Data::I64(vec![i64::MIN, 3]),
            Data::F32(vec![0.5, -2.25]),
            Data::F64(vec![1e300, -0.0]),
            Data::Bytes(vec![b"hello".to_vec(), Vec::new(), "é".as_bytes().to_vec()]),
        ];
        for data in cases {
            let mut bytes = Vec::new();
            data.write_le_bytes(&mut bytes);
            assert_eq!(Data::from_le_bytes(data.datatype(), &bytes), Ok(data));
        }
    }

    #[test]
    fn truncated_binary_data_is_refused() {
        assert!(Data::from_le_bytes(Datatype::Fp32, &[0, 0, 0]).is_err());
        assert!(Data::from_le_bytes(Datatype::Bytes, &[5, 0, 0, 0, b'a']).is_err());
        assert!(Data::from_le_bytes(Datatype::Bytes, &[1, 0]).is_err());
    }
}
