//! The embedding model that ships inside the binary: potion-base-8M, a Model2Vec static model
//! (a token-embedding table and mean pooling, no neural runtime). `models/README.md` tells where
//! it comes from and how to re-create it. Its files are checked against their SHA-256 at
//! start-up: a damaged build input must stop the server, not rank with noise.

use model2vec_rs::model::StaticModel;
use sha2::{Digest, Sha256};

use crate::store::entities::Entity;

/// The model's name and the start of its table's SHA-256: stored with every vector, so that
/// vectors of another model are recomputed rather than compared.
pub const MODEL_ID: &str = "potion-base-8M/f16/3955b8a3acf2";

/// One file of a model: its name, its bytes and the SHA-256 they must have.
pub struct ModelFile {
    pub name: &'static str,
    pub bytes: &'static [u8],
    pub sha256: &'static str,
}

pub const TABLE: ModelFile = ModelFile {
    name: "model.safetensors",
    bytes: include_bytes!("../../../models/potion-base-8M/model.safetensors"),
    sha256: "3955b8a3acf2d48c6a88e980c002eb842336cafee896ee39e15007e05ee16229",
};
pub const TOKENIZER: ModelFile = ModelFile {
    name: "tokenizer.json",
    bytes: include_bytes!("../../../models/potion-base-8M/tokenizer.json"),
    sha256: "273ca9e28ec6990aea6206b0364443754d87e87a5dd28e94026ea9999ba3bf62",
};
pub const CONFIG: ModelFile = ModelFile {
    name: "config.json",
    bytes: include_bytes!("../../../models/potion-base-8M/config.json"),
    sha256: "85c39c64b0ae21180d7837751d58933da9e6d2e4e1624bf1be4df186047afba4",
};

/// Tokens a text is cut to: records are short; a long description's start says what it is.
const MAX_TOKENS: usize = 256;

/// Turns text into unit vectors.
pub struct Embedder {
    model: StaticModel,
}

fn verify(f: &ModelFile) -> Result<(), String> {
    let actual = hex::encode(Sha256::digest(f.bytes));
    if actual != f.sha256 {
        return Err(format!(
            "embedding model file {} is corrupted: SHA-256 {actual}, expected {} \
             (rebuild from a clean checkout; see models/README.md)",
            f.name, f.sha256
        ));
    }
    Ok(())
}

impl Embedder {
    /// The built-in model, verified.
    pub fn builtin() -> Result<Embedder, String> {
        Embedder::load(&TABLE, &TOKENIZER, &CONFIG)
    }

    pub fn load(
        table: &ModelFile,
        tokenizer: &ModelFile,
        config: &ModelFile,
    ) -> Result<Embedder, String> {
        for f in [table, tokenizer, config] {
            verify(f)?;
        }
        let model = StaticModel::from_bytes(tokenizer.bytes, table.bytes, config.bytes, None)
            .map_err(|e| format!("embedding model cannot be loaded: {e:#}"))?;
        Ok(Embedder { model })
    }

    pub fn dim(&self) -> usize {
        self.model.dim()
    }

    /// The unit vector of `text` (see [`semantic_words`]); `None` when no word is left to embed.
    pub fn embed(&self, text: &str) -> Option<Vec<f32>> {
        let words = semantic_words(text);
        if words.is_empty() {
            return None;
        }
        let v = self
            .model
            .encode_with_args(&[words], Some(MAX_TOKENS), 1)
            .pop()?;
        v.iter().any(|x| *x != 0.0).then_some(v)
    }
}

/// The words of a text that carry meaning for the model: tokens holding a digit (sizes, codes,
/// part numbers) are left out. The keyword side matches those exactly; averaged into a vector
/// they only pull every record of a templated catalog towards every other.
pub fn semantic_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for w in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')')) {
        if w.is_empty() || w.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// What an entity's vector is made of: its name, description and the text values of its
/// `vertical_data` (numbers and booleans are the filters' business).
pub fn entity_text(e: &Entity) -> String {
    let mut out = e.name.clone();
    if let Some(d) = &e.description {
        out.push_str(". ");
        out.push_str(d);
    }
    fn texts(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::String(s) => {
                out.push_str(". ");
                out.push_str(s);
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| texts(i, out)),
            _ => {}
        }
    }
    for v in e.vertical_data.values() {
        texts(v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_model_loads_and_embeds_unit_vectors() {
        let m = Embedder::builtin().unwrap();
        assert_eq!(m.dim(), 256);
        let v = m.embed("stainless steel hex bolt").unwrap();
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{norm}");
        assert!(m.embed("M8 6204-2RS 40").is_none());
        assert!(m.embed("").is_none());
    }

    #[test]
    fn related_texts_are_closer_than_unrelated() {
        let m = Embedder::builtin().unwrap();
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let motor = m.embed("three-phase induction motor").unwrap();
        let drive = m.embed("electric drive for a conveyor").unwrap();
        let washer = m.embed("flat washer stainless steel").unwrap();
        assert!(dot(&motor, &drive) > dot(&washer, &drive));
    }

    #[test]
    fn a_damaged_file_is_refused_with_its_name() {
        let mut bytes = TOKENIZER.bytes.to_vec();
        bytes[100] ^= 1;
        let damaged = ModelFile {
            name: "tokenizer.json",
            bytes: Box::leak(bytes.into_boxed_slice()),
            sha256: TOKENIZER.sha256,
        };
        let err = Embedder::load(&TABLE, &damaged, &CONFIG).err().unwrap();
        assert!(err.contains("tokenizer.json is corrupted"), "{err}");
    }

    #[test]
    fn digits_are_left_to_the_keyword_side() {
        assert_eq!(
            semantic_words("Hex bolt M8x40, DIN 933 (A2-70) zinc plated"),
            "Hex bolt DIN zinc plated"
        );
    }
}
