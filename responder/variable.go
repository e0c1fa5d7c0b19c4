package responder

import "net/http"

// SetVariable has an Authorizer's 200 response pass the variable name with
// value on to what serves the authorized request: a FastCGI or CGI
// program reads it with [Param] (or from its environment), Apache's
// expressions as %{reqenv:name}. It sets the header "Variable-" + name
// with name's case kept, which the variable needs and
// [http.Header.Set] would change (USER_ID to User_id).
func SetVariable(w http.ResponseWriter, name, value string) {
	w.Header()["Variable-"+name] = []string{value}
}
