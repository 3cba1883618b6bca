//! The memcached text protocol codec (owned by the protocol helper).
