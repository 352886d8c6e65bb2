//! A background thread running its own actix runtime until asked to stop (webhook deliveries,
//! connector pulls), so its work shares nothing with request handling.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct RuntimeThread {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RuntimeThread {
    /// Runs `run()` to completion on a thread named `name`; `run` is expected to return soon
    /// after `stop` is set.
    pub fn spawn<F, Fut>(name: &'static str, stop: Arc<AtomicBool>, run: F) -> RuntimeThread
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || actix_web::rt::System::new().block_on(run()))
            .map_err(|e| log::error!("cannot start the {name} thread: {e}"))
            .ok();
        RuntimeThread { stop, thread }
    }

    /// Sets the stop flag and waits up to `wait` for the thread to end; whether it did.
    pub fn stop(mut self, wait: Duration) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if thread.is_finished() {
                let _ = thread.join();
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_stops_when_asked_and_a_stuck_one_is_reported() {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let t = RuntimeThread::spawn("test-loop", stop, move || async move {
            while !flag.load(Ordering::Relaxed) {
                actix_web::rt::time::sleep(Duration::from_millis(5)).await;
            }
        });
        assert!(t.stop(Duration::from_secs(5)));
        let stuck =
            RuntimeThread::spawn("test-stuck", Arc::new(AtomicBool::new(false)), || async {
                actix_web::rt::time::sleep(Duration::from_secs(2)).await;
            });
        assert!(!stuck.stop(Duration::from_millis(50)));
    }
}
