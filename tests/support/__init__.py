"""What tests share: the one runtime factory, ports and test servers, small workers."""
