//! A thread's cached object records go back to the shared free list when the
//! thread exits: the records are never freed, so records lost with a thread
//! would be lost for good (and LeakSanitizer reports them). Its own test
//! binary: nothing else takes or gives back records meanwhile.

#![cfg(not(goro_no_tracking))] // no records when tracking is compiled out

use std::collections::HashSet;

#[test]
fn records_cached_by_an_exited_thread_are_reused() {
    let theirs: HashSet<usize> = std::thread::spawn(|| {
        let slots: Vec<goro_hook::RecordSlot> =
            (0..10).map(|_| goro_hook::RecordSlot::new()).collect();
        let addrs = slots.iter().map(|s| s.key().to_parts().0).collect();
        drop(slots); // into this thread's cache, which dies with the thread
        addrs
    })
    .join()
    .unwrap();
    assert_eq!(theirs.len(), 10);
    // This thread's cache is empty: its records come from the shared list,
    // which holds exactly the exited thread's ten.
    let mine: Vec<goro_hook::RecordSlot> = (0..10).map(|_| goro_hook::RecordSlot::new()).collect();
    let reused = mine
        .iter()
        .filter(|s| theirs.contains(&s.key().to_parts().0))
        .count();
    assert_eq!(reused, 10, "the exited thread's records were lost");
}
