//! Compression of rotated files (feature `gzip`), on a thread of its own so the writer never
//! waits for it.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Compresses `rotated` to `rotated.gz` via a temporary file, then removes `rotated`. A crash
/// half-way leaves the original intact and a `.gz.tmp` that retention ignores.
pub(super) fn compress(rotated: &Path, mode: u32) -> io::Result<()> {
    let mut name = rotated.as_os_str().to_owned();
    name.push(super::naming::GZ_SUFFIX);
    let gz = Path::new(&name).to_path_buf();
    let mut tmp_name = name.clone();
    tmp_name.push(".tmp");
    let tmp = Path::new(&tmp_name).to_path_buf();

    let result = (|| {
        let mut input = BufReader::new(File::open(rotated)?);
        let out = create_new(&tmp, mode)?;
        let mut encoder = GzEncoder::new(BufWriter::new(out), Compression::default());
        io::copy(&mut input, &mut encoder)?;
        let mut out = encoder.finish()?;
        out.flush()?;
        out.get_ref().sync_all()?;
        fs::rename(&tmp, &gz)?;
        fs::remove_file(rotated)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode).custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}
