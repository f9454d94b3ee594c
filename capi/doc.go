// Command capi is riverbed's C ABI: the exported functions of the shared library built
// with -buildmode=c-shared. It holds no engine logic. Every function has one skeleton:
// recover a panic, check the handle, call the pure-Go API (package engine), and map the
// error to a status code and a message. riverbed.h, written by hand, is the contract; the
// header cgo generates is not.
package main
