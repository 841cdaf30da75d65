// Package chaintest measures and checks whole filter chains: the default
// governance chain against a bare route, in the same run. It holds tests
// only.
package chaintest
