// Package wait holds the one sleep that every retry loop needs: Sleep
// waits a duration or until its context ends, whichever comes first.
package wait
