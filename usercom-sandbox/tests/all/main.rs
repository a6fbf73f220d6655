//! The User.com sandbox over real HTTP: paging, auth, limits, faults, search, the month-later state.

mod api;
