#pragma once
// The relay's one way in to Asio and Beast. Both are compiled once, in asio_impl.cpp
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION), so including these
// headers costs declarations, not template instantiations of the whole library.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

namespace parley {
// A connection's executor: its I/O thread's io_context, named as such rather than as the
// default any_io_executor. Every asynchronous step (Beast's reads and writes, each post)
// then copies a pointer instead of copying, querying and destroying a type-erased executor,
// which was ~6 % of the relay's CPU per message.
using IoExecutor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<tcp, IoExecutor>;
}  // namespace parley
