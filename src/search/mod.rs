//! Search: a tantivy index derived from the store (it can always be rebuilt from it), kept at
//! most about a second behind by [`indexer`], queried through [`query`] and ordered by
//! [`ranking`]; text is analyzed by [`analysis`] on both sides.

pub mod analysis;
pub mod by_value;
pub mod document;
pub mod facets;
pub mod filter_cache;
pub mod format;
pub mod fuzzy;
pub mod hybrid;
pub mod identifiers;
pub mod indexer;
pub mod newest;
pub mod pruned;
pub mod query;
pub mod ranking;
pub mod schema;
pub mod semantic;

use std::path::Path;
use std::sync::Mutex;

use tantivy::directory::MmapDirectory;
use tantivy::schema::Term;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy};

pub use schema::Fields;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Directory(String),
    /// A `vertical_data` sort key no entity of the tenant's vertical has.
    #[error("unknown sort field '{0}'")]
    UnknownSort(String),
}

/// Indexing memory for all writer threads together.
const WRITER_MEMORY: usize = 96 * 1024 * 1024;
const WRITER_THREADS: usize = 2;

pub struct SearchIndex {
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
    writer: Mutex<IndexWriter>,
    version_file: std::path::PathBuf,
    /// Entity vectors and the model that makes them; `None` with embeddings turned off.
    pub semantic: Option<std::sync::Arc<semantic::Semantic>>,
    /// What filters match, per segment (see [`filter_cache`]).
    pub filters: std::sync::Arc<filter_cache::FilterCache>,
}

impl SearchIndex {
    /// Opens the index under `dir`, creating it when absent or of another schema version. The
    /// flag says the caller must queue every stored entity, then call [`Self::mark_complete`].
    pub fn open(dir: &Path) -> Result<(SearchIndex, bool), SearchError> {
        let io = |e: std::io::Error| SearchError::Directory(e.to_string());
        let version_file = dir.join("SCHEMA_VERSION");
        let current = std::fs::read_to_string(&version_file).ok();
        if current.as_deref().map(str::trim) != Some(schema::SCHEMA_VERSION) && dir.exists() {
            // Derived data of another format: drop it, the caller rebuilds from the store.
            std::fs::remove_dir_all(dir).map_err(io)?;
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let (schema, fields) = schema::build();
        let mmap = MmapDirectory::open(dir).map_err(|e| SearchError::Directory(e.to_string()))?;
        let created = !Index::exists(&mmap).map_err(|e| SearchError::Directory(e.to_string()))?;
        let index = Index::open_or_create(mmap, schema)?;
        schema::register_analyzers(&index);
        let writer = index.writer_with_num_threads(WRITER_THREADS, WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        // Without the marker, the index is not known to be complete: rebuild it.
        let complete = current.as_deref().map(str::trim) == Some(schema::SCHEMA_VERSION);
        Ok((
            SearchIndex {
                index,
                reader,
                fields,
                writer: Mutex::new(writer),
                version_file,
                semantic: None,
                filters: Default::default(),
            },
            created || !complete,
        ))
    }

    /// Records that every stored entity is indexed or durably queued. Written only after a
    /// rebuild's queueing is flushed, so a crash in the middle of it means another full rebuild
    /// rather than an index missing entities for good.
    pub fn mark_complete(&self) -> Result<(), SearchError> {
        std::fs::write(&self.version_file, schema::SCHEMA_VERSION)
            .map_err(|e| SearchError::Directory(e.to_string()))
    }

    /// Runs `f` with the writer, then commits and makes the result visible to searches.
    pub fn write<R>(&self, f: impl FnOnce(&IndexWriter, &Fields) -> R) -> Result<R, SearchError> {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| SearchError::Directory("index writer poisoned".into()))?;
        let out = f(&writer, &self.fields);
        writer.commit()?;
        self.reader.reload()?;
        Ok(out)
    }

    /// Drops every document of a tenant.
    pub fn delete_tenant(&self, tenant: &str) -> Result<(), SearchError> {
        if let Some(s) = &self.semantic {
            s.partitions.delete_tenant(tenant);
        }
        self.write(|w, f| {
            w.delete_term(Term::from_field_text(f.tenant, tenant));
        })
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}
