//! Port of <https://github.com/golang/go/blob/master/test/chan/zerosize.go>:
//! "Test making channels of a zero-sized type." (Extended: they also work.)

use goro_chan::make;

#[test]
fn zerosize() {
    let _ = make::<[u8; 0]>(0);
    let _ = make::<[u8; 0]>(1);
    let _ = make::<()>(0);
    let _ = make::<()>(1);

    let c = make::<()>(3);
    for _ in 0..3 {
        c.try_send(()).unwrap();
    }
    assert_eq!(c.len(), 3);
    assert!(c.try_send(()).is_err());
    let u = make::<()>(0);
    let u2 = u.clone();
    let t = std::thread::spawn(move || u2.send_blocking(()));
    assert_eq!(u.recv_blocking(), Some(()));
    t.join().unwrap();
    u.close();
    assert_eq!(u.recv_blocking(), None);
}
