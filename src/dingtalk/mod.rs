//! dingtalk (in progress)
