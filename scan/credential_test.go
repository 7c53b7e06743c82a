package scan_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

const credentialSpec = `openapi: 3.0.3
info: { title: credentials, version: "1" }
paths:
  /auth/login:
    post:
      operationId: login
      requestBody: { content: { application/json: { schema: { type: object, properties: { username: { type: string }, password: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /auth/register:
    post:
      operationId: registerUser
      requestBody: { content: { application/json: { schema: { type: object, properties: { username: { type: string }, password: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /users:
    post:
      operationId: addUser
      summary: Create a user with a password
      requestBody: { content: { application/json: { schema: { type: object, properties: { username: { type: string }, password: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /users/{username}/password:
    put:
      operationId: changePassword
      parameters: [ { name: username, in: path, required: true, schema: { type: string } } ]
      requestBody: { content: { application/json: { schema: { type: object, properties: { newPassword: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /users/{id}:
    patch:
      operationId: updateUser
      parameters: [ { name: id, in: path, required: true, schema: { type: integer } } ]
      requestBody: { content: { application/json: { schema: { allOf: [ { type: object, properties: { email: { type: string } } }, { type: object, properties: { pwd: { type: string } } } ] } } } }
      responses: { "200": { description: ok } }
  /me:
    patch:
      operationId: updateMe
      requestBody: { content: { application/json: { schema: { type: object, properties: { bio: { type: string }, new_pass: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /account/change:
    post:
      operationId: changeIt
      summary: Change your credentials
      requestBody: { content: { application/json: { schema: { type: object, properties: { oldPassword: { type: string }, newPassword: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /travel/{user}:
    put:
      operationId: setPassport
      parameters: [ { name: user, in: path, required: true, schema: { type: string } } ]
      requestBody: { content: { application/json: { schema: { type: object, properties: { passport: { type: string }, bypass: { type: boolean } } } } } }
      responses: { "200": { description: ok } }
  /books/{id}:
    put:
      operationId: updateBook
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      requestBody: { content: { application/json: { schema: { type: object, properties: { title: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /keys/rotate:
    post:
      operationId: rotateKey
      x-gatehouse-credential: true
      responses: { "200": { description: ok } }
  /me/secret:
    put:
      operationId: setSecret
      x-gatehouse-credential: { field: new_secret, user_fields: [username] }
      requestBody: { content: { application/json: { schema: { type: object, properties: { new_secret: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /signup:
    post:
      operationId: signUp
      x-gatehouse-credential: password
      requestBody: { content: { application/json: { schema: { type: object, properties: { username: { type: string }, password: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /pin:
    put:
      operationId: setPin
      x-gatehouse-credential: false
      requestBody: { content: { application/json: { schema: { type: object, properties: { pin: { type: string } } } } } }
      responses: { "200": { description: ok } }
  /devices/{id}:
    put:
      operationId: configureDevice
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      requestBody: { content: { application/json: { schema: { type: object, properties: { password: { type: string } } } } } }
      responses: { "200": { description: ok } }
`

// IsCredentialChange finds password changes by their body and their words
// or account path, and leaves logins, registrations, account creation and
// fields that merely contain "pass" alone.
func TestIsCredentialChange(t *testing.T) {
	spec, err := openapi.LoadBytes([]byte(credentialSpec), "credentials.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"login": false, "registerUser": false, "addUser": false, "changePassword": true, "updateUser": true,
		"updateMe": true, "changeIt": true, "setPassport": false, "updateBook": false, "rotateKey": true,
		"configureDevice": false, // a device's password: no account path, no password word in its name
		// the gateway's password-policy mark: a change, unless the
		// operation registers an account
		"setSecret": true, "signUp": false, "setPin": false,
	}
	for _, op := range spec.Operations {
		w, ok := want[op.ID]
		if !ok {
			t.Fatalf("operation %s has no expectation", op.ID)
		}
		if got := scan.IsCredentialChange(op); got != w {
			t.Errorf("IsCredentialChange(%s) = %v, want %v", op.ID, got, w)
		}
	}
	for id, want := range map[string]string{"setSecret": "new_secret", "signUp": "password", "rotateKey": "", "changePassword": ""} {
		if _, got := scan.CredentialExtension(spec.Operation(id)); got != want {
			t.Errorf("CredentialExtension(%s) field = %q, want %q", id, got, want)
		}
	}
	for k, w := range map[string]bool{"password": true, "newPassword": true, "new_pass": true, "pwd": true, "passwd": true,
		"passwordConfirmation": true, "passport": false, "bypass": false, "compass": false, "username": false} {
		if got := scan.PasswordField(k); got != w {
			t.Errorf("PasswordField(%q) = %v, want %v", k, got, w)
		}
	}
	for k, w := range map[string]bool{"oldPassword": true, "current_password": true, "currentpassword": true, "newPassword": false,
		"password": false, "old_name": false} {
		if got := scan.CurrentPasswordField(k); got != w {
			t.Errorf("CurrentPasswordField(%q) = %v, want %v", k, got, w)
		}
	}
}
