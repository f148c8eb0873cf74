module rai.invalid/rai

go 1.19
