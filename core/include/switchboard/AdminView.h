// Console views as data: a plugin describes the tables of its admin routes (endpoint, columns,
// actions, forms) next to those routes, and the console renders them without knowing the plugin.
// The host serves every running plugin's views at GET /admin/api/views.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace switchboard {

/// One column of a view's table.
struct ViewColumn {
    ViewColumn(std::string key_, std::string label_, std::string format_ = "text")
        : key(std::move(key_)), label(std::move(label_)), format(std::move(format_)) {}
    std::string key;    ///< the item's field; "a.b" reads field b of object field a
    std::string label;  ///< column heading
    /// How the console shows the value: "text", "time" (epoch seconds), "bool", "json".
    std::string format = "text";
};

/// One input of an action's form, sent as a JSON body field.
struct ViewField {
    ViewField(std::string name_, std::string label_, std::string type_ = "text",
              bool required_ = false)
        : name(std::move(name_)),
          label(std::move(label_)),
          type(std::move(type_)),
          required(required_) {}
    std::string name;
    std::string label;
    std::string type = "text";  ///< "text", "number", "password" or "json" (an object)
    bool required = false;
};

/// A button: on each row ("row") or above the table ("view", e.g. a create form).
struct ViewAction {
    ViewAction(std::string label_, std::string method_, std::string path_,
               std::string scope_ = "row", std::string confirm_ = "",
               std::vector<ViewField> fields_ = {}, std::vector<std::string> shows_ = {})
        : label(std::move(label_)),
          method(std::move(method_)),
          path(std::move(path_)),
          scope(std::move(scope_)),
          confirm(std::move(confirm_)),
          fields(std::move(fields_)),
          shows(std::move(shows_)) {}
    std::string label;
    std::string method;  ///< "POST", "DELETE", ... ("GET" shows the answer, changes nothing)
    /// Relative to /admin/api/<plugin>; `{field}` is replaced by the row's field (URL-encoded).
    std::string path;
    std::string scope = "row";
    std::string confirm;             ///< asked before sending, when not empty
    std::vector<ViewField> fields;   ///< a form asked before sending, when not empty
    std::vector<std::string> shows;  ///< answer fields shown once with a copy button (secrets)
};

/// One table the console shows for a plugin.
struct AdminView {
    AdminView(std::string id_, std::string title_, std::string endpoint_,
              std::vector<ViewColumn> columns_, std::vector<ViewAction> actions_ = {},
              bool search_ = false, bool paginate_ = false)
        : id(std::move(id_)),
          title(std::move(title_)),
          endpoint(std::move(endpoint_)),
          columns(std::move(columns_)),
          actions(std::move(actions_)),
          search(search_),
          paginate(paginate_) {}
    std::string id;     ///< unique within the plugin
    std::string title;  ///< the console's menu entry
    /// Relative to /admin/api/<plugin>: a GET answering {"items": [...], "total", "limit",
    /// "offset"} (or, from older routes, an array or an object holding one array).
    std::string endpoint;
    std::vector<ViewColumn> columns;
    std::vector<ViewAction> actions;
    bool search = false;    ///< the endpoint filters by `q`
    bool paginate = false;  ///< the endpoint takes `limit` and `offset`
};

}  // namespace switchboard
