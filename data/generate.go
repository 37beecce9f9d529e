package data

//go:generate go run ./internal/fixturegen -out ../testdata/data
