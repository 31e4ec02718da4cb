module verifyassertion

go 1.19
