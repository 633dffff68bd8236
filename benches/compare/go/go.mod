module goro.invalid/bench-compare

go 1.27
