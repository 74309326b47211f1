//go:build !race

package otelmicro_test

const raceEnabled = false
