module kvmserver.io/guests/gocounter

go 1.19
