"""What WhatsApp and Instagram share as Meta products: the webhook signature,
handshake and envelope readers (:mod:`.webhook`), the Graph API client senders
build on (:mod:`.graph`), and the ownership check of an account id
(:mod:`.ownership`). Not a channel itself."""
