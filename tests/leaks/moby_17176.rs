//! moby#17176 (GoKer moby_17176): `cleanupDeletedDevices` returns early
//! without unlocking the device set when there is nothing to clean up; the
//! test's goroutine then blocks on the lock forever, and the test gives up
//! after its timeout. Fix: unlock on every path.
//!
//! Go origin: src/runtime/testdata/testgoroutineleakprofile/goker/moby17176.go
//! (timmyyuan/gobench goker/blocking/moby/17176). No race is needed: the
//! leak happens on every run. The missing `Unlock` is a forgotten guard
//! here. The 1 ms `time.After` is the test's failure deadline: in the
//! fixed form it is 10 s, so the goroutine's send always wins the select
//! and does not stay parked on the unbuffered `doneChan`.
//! <https://github.com/moby/moby/pull/17176>

use std::sync::Arc;
use std::time::Duration;

use goro::chan::make;
use goro::sync::Mutex;

use super::{check, forever_reasons, leaks_of};

struct DeviceSet {
    nr_deleted_devices: Mutex<u32>,
}

impl DeviceSet {
    async fn cleanup_deleted_devices(&self, fixed: bool) -> Result<(), &'static str> {
        let devices = self.nr_deleted_devices.lock().await;
        if *devices == 0 {
            if !fixed {
                // Missing devices.Unlock()
                std::mem::forget(devices);
            }
            return Ok(());
        }
        drop(devices);
        Err("Error")
    }
}

async fn test_devmapper_lock_released_device_deletion(fixed: bool) {
    let ds = Arc::new(DeviceSet {
        nr_deleted_devices: Mutex::new(0),
    });
    let _ = ds.cleanup_deleted_devices(fixed).await;
    let done_chan = make::<bool>(0);
    let (ds2, d) = (ds.clone(), done_chan.clone());
    goro::go!(async move {
        let _g = ds2.nr_deleted_devices.lock().await;
        d.send(true).await;
    });
    let timeout = if fixed {
        Duration::from_secs(10)
    } else {
        Duration::from_millis(1)
    };
    let deadline = goro::time::after(timeout);
    goro::select! {
        _ = deadline.recv() => {}
        _ = done_chan.recv() => {}
    }
}

#[test]
fn buggy_leaks_the_locker() {
    let leaks = check(test_devmapper_lock_released_device_deletion(false));
    // Not proved while main runs (a gap): see the module doc of main.rs.
    leaks.assert_forever_while_running(&[]);
    let leaked = leaks.at_end;
    assert_eq!(forever_reasons(&leaked), ["sync.Mutex.Lock"]);
}

#[test]
fn fixed_unlocks_on_every_path() {
    assert!(leaks_of(test_devmapper_lock_released_device_deletion(true)).is_empty());
}
